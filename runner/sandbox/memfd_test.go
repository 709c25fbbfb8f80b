package sandbox

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// memfdHelperEnv makes the test binary the helper below: it writes the
// program named by the variable into an anonymous memory file and
// executes it, with the marker as its argument.
const memfdHelperEnv = "SANDBOX_MEMFD_HELPER"

// TestMemfdProgramsDoNotRun: a confined child cannot run a program from
// an anonymous memory file, which Landlock's path rules cannot see; a
// sealed one (MFD_NOEXEC_SEAL) can still be made.
func TestMemfdProgramsDoNotRun(t *testing.T) {
	s, ws := enforced(t, Options{})
	task, done, err := s.NewTask()
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(ws, "memfd-ran")
	cmd := exec.Command(self, "-test.run=^TestMemfdHelper$")
	cmd.Env = append(s.Env([]string{"PATH=" + os.Getenv("PATH")}, task), memfdHelperEnv+"="+lp(t, "touch")+":"+marker)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if _, err := s.Start(task, Exec{Programs: []string{self}}, startCmd(cmd)); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("a program ran from memory:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "memfd refused") || !strings.Contains(out.String(), "sealed ok") {
		t.Fatalf("helper output:\n%s", out.String())
	}
}

// TestMemfdHelper is the helper process of the test above.
func TestMemfdHelper(t *testing.T) {
	spec := os.Getenv(memfdHelperEnv)
	if spec == "" {
		t.Skip("helper process")
	}
	prog, marker, _ := strings.Cut(spec, ":")
	if fd, err := unix.MemfdCreate("sealed", unix.MFD_NOEXEC_SEAL|unix.MFD_CLOEXEC); err == nil {
		_ = unix.Close(fd)
		_, _ = os.Stdout.WriteString("sealed ok\n")
	}
	fd, err := unix.MemfdCreate("prog", 0)
	if err != nil {
		_, _ = os.Stdout.WriteString("memfd refused: " + err.Error() + "\n")
		return
	}
	data, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(fd, data); err != nil {
		t.Fatal(err)
	}
	err = unix.Exec("/proc/self/fd/"+strconv.Itoa(fd), []string{"touch", marker}, nil)
	_, _ = os.Stdout.WriteString("exec: " + err.Error() + "\n")
}
