package controllers

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/flashcatcloud/flashduty-runner-k8s/test/kubeletsim"
)

// kubeconfig writes a kubeconfig for the envtest API server.
func kubeconfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := kubeletsim.AdminKubeconfig(restCfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// kubectl runs the kubectl built for the envtest version.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(assetsDir(), "kubectl")
	if _, err := os.Stat(bin); err != nil {
		bin = "kubectl"
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig", kubeconfig(t)}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}
