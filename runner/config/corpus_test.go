package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
)

// corpusFile is the development sample of real diagnostic commands, with
// the verdict each should get under the read-only presets.
func corpusFile(t *testing.T) string {
	if p := os.Getenv("FLASHDUTY_CORPUS"); p != "" {
		return p
	}
	p, err := filepath.Abs("../../../shared/corpora/diagnostics-dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type corpus struct {
	Rulesets map[string]struct {
		Config string `yaml:"config"`
	} `yaml:"rulesets"`
	Cases []struct {
		ID, Rules, Command, Expect, Strictness string
	} `yaml:"cases"`
}

// TestPresetsFitRealDiagnosis scores the presets against the corpus: every
// command that must be denied is, and nearly every one that must be
// allowed is (hack/score-corpus.sh prints the figures and the misses).
func TestPresetsFitRealDiagnosis(t *testing.T) {
	b, err := os.ReadFile(corpusFile(t))
	if os.IsNotExist(err) {
		t.Skipf("no corpus at %s (set FLASHDUTY_CORPUS)", corpusFile(t))
	}
	if err != nil {
		t.Fatal(err)
	}
	var c corpus
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	policies := map[string]*permission.Policy{}
	for name, rs := range c.Rulesets {
		var f struct {
			Permission Permission `yaml:"permission"`
		}
		if err := yaml.Unmarshal([]byte(rs.Config), &f); err != nil {
			t.Fatal(err)
		}
		p, err := f.Permission.EffectiveBash().PolicyWith(permission.Options{Workspace: "/workspace"})
		if err != nil {
			t.Fatal(err)
		}
		policies[name] = p
	}
	type tally struct{ right, all int }
	score := map[string]*tally{}
	for _, k := range c.Cases {
		p := policies[k.Rules]
		if p == nil {
			t.Fatalf("%s: no ruleset %q", k.ID, k.Rules)
		}
		v := p.Check(k.Command)
		got := "deny"
		if v.Allowed {
			got = "allow"
		}
		key := fmt.Sprintf("%s %s (%s)", k.Rules, k.Expect, k.Strictness)
		if score[key] == nil {
			score[key] = &tally{}
		}
		score[key].all++
		if got == k.Expect {
			score[key].right++
			continue
		}
		why := ""
		if v.Err != nil {
			why = v.Err.Error()
		}
		t.Logf("miss %s %s: want %s: %s — %s", k.ID, k.Rules, k.Expect, strings.ReplaceAll(k.Command, "\n", " "), why)
		if k.Expect == "deny" {
			t.Errorf("%s: allowed under %s: %s", k.ID, k.Rules, k.Command)
		}
	}
	for key, s := range score {
		t.Logf("%-45s %3d/%3d  %5.1f%%", key, s.right, s.all, 100*float64(s.right)/float64(s.all))
		if strings.Contains(key, "allow (must)") && s.right*100 < s.all*90 {
			t.Errorf("%s: only %d of %d allowed", key, s.right, s.all)
		}
	}
}
