package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
)

// The upstream runner reads its bash rules from a file of its own
// (--permission-config, FLASHDUTY_RUNNER_PERMISSION_CONFIG): a top-level
// `permission:` mapping of glob → allow|deny in which the most specific
// pattern wins: the one with the longest literal text before its first
// `*`, with "*" last, and the first such match applies. This runner's
// rules are ordered and the last match wins, so the file is translated by
// ordering its patterns from least to most specific. Patterns equally
// specific are ordered as upstream lists them, by their text; the first of
// them in that order is placed last here, so it wins as it does there.

// LoadUpstreamPermission reads an upstream permission file as ordered
// rules. A missing, unreadable, malformed or empty file is an error: the
// upstream runner refuses to start on one too.
func LoadUpstreamPermission(path string) (Rules, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("permission config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("permission config %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("permission config %s is larger than %d bytes", path, maxFileSize)
	}
	var doc struct {
		Permission yaml.Node `yaml:"permission"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("permission config %s: %w", path, err)
	}
	m := doc.Permission
	if m.Kind != yaml.MappingNode || len(m.Content) == 0 {
		return nil, fmt.Errorf("permission config %s: no `permission:` map of pattern: allow|deny (an empty one would leave the runner without rules)", path)
	}
	var rules Rules
	var errs []error
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		action := permission.Action(strings.ToLower(strings.TrimSpace(v.Value)))
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode || !action.Valid() || strings.TrimSpace(k.Value) == "" {
			errs = append(errs, fmt.Errorf("permission config %s line %d: want `pattern: allow|deny`", path, k.Line))
			continue
		}
		rules = append(rules, Rule{Pattern: k.Value, Action: action, Line: k.Line})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return mostSpecificLast(rules), nil
}

// mostSpecificLast orders upstream rules so that last-match-wins picks
// the rule upstream's most-specific-first-match would.
func mostSpecificLast(rules Rules) Rules {
	out := slices.Clone(rules)
	slices.SortStableFunc(out, func(a, b Rule) int {
		if c := specificity(a.Pattern) - specificity(b.Pattern); c != 0 {
			return c
		}
		return strings.Compare(b.Pattern, a.Pattern) // upstream's first, by text, ends last
	})
	return out
}

// specificity is the length of a pattern's literal text before its first
// `*`; "*" is the least specific of all.
func specificity(p string) int {
	if p == "*" {
		return -1
	}
	if i := strings.IndexByte(p, '*'); i >= 0 {
		return i
	}
	return len(p)
}
