package shell

import (
	"context"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
)

// FuzzNothingDeniedReachesExec runs every command the static check allows
// in the interpreter, with exec and open replaced by recorders, and
// asserts that nothing that reached exec or a write is denied by the
// rules: the static check never lets through what the rules forbid, and
// whatever it could not see was stopped at run time before exec.
func FuzzNothingDeniedReachesExec(f *testing.F) {
	for _, s := range []string{
		"ls", "echo hi > out", "kubectl get pods | grep x", "X=rm; $X -rf /", "eval 'rm x'",
		"f() { rm x; }; f", "sudo rm x", "a=$(echo rm); $a x", "for c in rm ls; do $c x; done",
		"bash -c 'rm x'", "ls > $(echo /etc/x)", "echo x | xargs rm", "exec rm x", "command rm x",
	} {
		f.Add(s)
	}
	policy, err := permission.Compile([]permission.Rule{
		{Pattern: "*", Action: permission.Allow}, {Pattern: "rm *", Action: permission.Deny},
		{Pattern: "> *", Action: permission.Deny}, {Pattern: "> out", Action: permission.Allow},
		{Pattern: "sudo *", Action: permission.Deny},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		file, err := permission.Parse(cmd)
		if err != nil || !policy.CheckParsed(t.Context(), file, cmd).Allowed {
			return
		}
		var mu sync.Mutex
		var reached [][]string
		s := New(Options{Policy: policy})
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		r, err := interp.New(
			interp.Env(expand.ListEnviron()),
			interp.Dir(t.TempDir()),
			interp.StdIO(nil, io.Discard, io.Discard),
			interp.CallHandler(s.callHandler(&taskRun{procs: &groups{}, fifos: &fifos{}})),
			interp.ExecHandlers(func(interp.ExecHandlerFunc) interp.ExecHandlerFunc {
				return func(_ context.Context, args []string) error {
					mu.Lock()
					reached = append(reached, args)
					mu.Unlock()
					return nil
				}
			}),
			interp.OpenHandler(func(ctx context.Context, path string, flag int, _ os.FileMode) (io.ReadWriteCloser, error) {
				if flag&(os.O_WRONLY|os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_TRUNC) != 0 {
					if d := policy.CheckWrite(path); !d.Allowed {
						return nil, d.Err()
					}
					mu.Lock()
					reached = append(reached, []string{">", path})
					mu.Unlock()
					return nopFile{}, nil
				}
				return nil, os.ErrNotExist
			}),
			interp.ReadDirHandler2(func(context.Context, string) ([]os.DirEntry, error) { return nil, nil }),
		)
		if err != nil {
			t.Fatal(err)
		}
		_ = r.Run(ctx, file)
		cancel()
		mu.Lock()
		defer mu.Unlock()
		for _, args := range reached {
			if args[0] == ">" {
				if d := policy.CheckWrite(args[1]); !d.Allowed {
					t.Fatalf("%q: denied write reached the file system: %q", cmd, args)
				}
				continue
			}
			if v := policy.CheckArgs(t.Context(), args); !v.Allowed {
				t.Fatalf("%q: denied command reached exec: %q", cmd, args)
			}
		}
	})
}

type nopFile struct{}

func (nopFile) Read([]byte) (int, error)    { return 0, io.EOF }
func (nopFile) Write(p []byte) (int, error) { return len(p), nil }
func (nopFile) Close() error                { return nil }
