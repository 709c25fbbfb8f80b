package controllers

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
)

// A fleet: the cluster's name prefixes the registered name and becomes a
// label, so 50 clusters × `prod` do not register 50 identical runners.
func TestRenderClusterName(t *testing.T) {
	for cluster, want := range map[string][2]string{"": {"prod", ""}, "eu-1": {"eu-1/prod", "cluster:eu-1"}} {
		out, err := RenderConfig(runner("ns", "prod"), cluster)
		if err != nil {
			t.Fatal(err)
		}
		var cfg config.Config
		if err := yaml.Unmarshal(out, &cfg); err != nil {
			t.Fatal(err)
		}
		labels := strings.Join(cfg.Labels, ",")
		hasLabel := strings.Contains(labels, "cluster:")
		if cfg.Name != want[0] || hasLabel != (want[1] != "") || want[1] != "" && !strings.Contains(labels, want[1]) {
			t.Errorf("%q: name %q labels %q", cluster, cfg.Name, labels)
		}
	}
}
