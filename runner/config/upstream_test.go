package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUpstreamPermissionFile: an upstream runner's permission file means
// here what it means there (most specific pattern wins, "*" last), and a
// broken or empty one refuses to start.
func TestUpstreamPermissionFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "permission.yaml")
	if err := os.WriteFile(file, []byte(`permission:
  "*": deny
  "kubectl *": allow
  "kubectl delete *": deny
  "kubectl get secret*": deny
  "kubectl get secrets -n public*": allow
  "ls": allow
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(Source{Env: []string{"FLASHDUTY_RUNNER_API_KEY=k", "FLASHDUTY_RUNNER_PERMISSION_CONFIG=" + file, "FLASHDUTY_RUNNER_DISABLE_AUTO_UPDATE=true"},
		Flags: map[string]string{"api_url": "ws://127.0.0.1:1/safari/worknode/ws", "workspace_root": dir}, Identity: testID})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := cfg.Permission.EffectiveBash().Policy()
	if err != nil {
		t.Fatal(err)
	}
	for cmd, allowed := range map[string]bool{
		"kubectl get pods":                 true,
		"kubectl delete pod x":             false,
		"kubectl get secrets -n kube":      false,
		"kubectl get secrets -n public-ns": true,
		"ls":                               true,
		"ls -la":                           false,
		"rm x":                             false,
	} {
		if got := policy.Check(cmd).Allowed; got != allowed {
			t.Errorf("%s: allowed=%v, want %v (rules %v)", cmd, got, allowed, cfg.Permission.Bash)
		}
	}
	for name, text := range map[string]string{
		"empty":      "",
		"no map":     "permission: []\n",
		"empty map":  "permission: {}\n",
		"bad action": "permission:\n  ls: maybe\n",
		"broken":     "permission: [\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(Source{Env: []string{"FLASHDUTY_RUNNER_API_KEY=k", "FLASHDUTY_RUNNER_PERMISSION_CONFIG=" + p}, Identity: testID}); err == nil {
			t.Errorf("%s permission file accepted", name)
		}
	}
	if _, err := Load(Source{Env: []string{"FLASHDUTY_RUNNER_API_KEY=k", "FLASHDUTY_RUNNER_PERMISSION_CONFIG=" + filepath.Join(dir, "missing.yaml")}, Identity: testID}); err == nil {
		t.Error("a missing permission file was accepted")
	}
}
