// Package shell is the `bash` operation. It parses the command once,
// checks every part against the permission rules before anything runs,
// and then executes that same tree in an embedded bash interpreter whose
// call, exec and open handlers check every real command line and every
// file opened for writing again at run time.
package shell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/redact"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/sandbox"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/spill"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/workspace"
)

// Defaults for Options.
const (
	DefaultTimeout   = 120 * time.Second
	DefaultMaxTime   = 30 * time.Minute
	DefaultMaxOutput = 16 << 20
	// TimeoutExitCode is what a timed-out command reports, as timeout(1).
	TimeoutExitCode = 124
	killWait        = 2 * time.Second
)

// Options configure the operation.
type Options struct {
	Policy *permission.Policy
	// Root is the workspace root; commands start in it or below it.
	Root string
	// Env is the child environment; FLASHDUTY_* entries are dropped.
	Env            []string
	DefaultTimeout time.Duration
	MaxTimeout     time.Duration
	// MaxOutput bounds captured bytes per stream; the rest is counted
	// and discarded.
	MaxOutput int
	Spill     *spill.Spiller
	Logger    logr.Logger
	// Redactor scrubs commands before they are logged.
	Redactor *redact.Redactor
	// Sandbox confines every program a task starts; nil runs them
	// unconfined.
	Sandbox *sandbox.Sandbox
	// CLIDirs are where a bundled Flashduty CLI may be (default
	// BundledCLIDir); nil means the default.
	CLIDirs []string
}

// BundledCLIDir is where an image bundles the Flashduty CLI (flashduty
// or fduty), which the platform's built-in Flashduty skill runs.
const BundledCLIDir = "/usr/local/lib/flashduty-runner/bin"

// managedVar tells the Flashduty CLI that the runner runs it (and hands
// it the member's credentials through the call's env).
const managedVar = "FLASHDUTY_MANAGED_BY_RUNNER"

// withCLI puts the first of dirs that holds the Flashduty CLI first on
// env's PATH and marks the CLI as run by the runner; env is unchanged
// when no dir holds it.
func withCLI(env []string, dirs []string) []string {
	for _, d := range dirs {
		for _, name := range []string{"flashduty", "fduty"} {
			if st, err := os.Stat(filepath.Join(d, name)); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
				path := ""
				for _, kv := range env {
					if v, ok := strings.CutPrefix(kv, "PATH="); ok {
						path = v
					}
				}
				if path != "" {
					path = ":" + path
				}
				return append(withoutVar(withoutVar(env, "PATH"), managedVar), "PATH="+d+path, managedVar+"=1")
			}
		}
	}
	return env
}

// Shell runs bash tasks.
type Shell struct {
	o      Options
	env    []string
	lookup expand.Environ // PATH for finding programs: the runner's, not the script's
	path   string
	// anyProgram: the rules allow every command, so the sandbox lets
	// children execute the system's program directories.
	anyProgram bool
}

// New returns the operation.
func New(o Options) *Shell {
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = DefaultTimeout
	}
	if o.MaxTimeout <= 0 {
		o.MaxTimeout = DefaultMaxTime
	}
	if o.MaxOutput <= 0 {
		o.MaxOutput = DefaultMaxOutput
	}
	if o.CLIDirs == nil {
		o.CLIDirs = []string{BundledCLIDir}
	}
	env := withCLI(o.Policy.ChildEnv(CleanEnv(o.Env)), o.CLIDirs)
	lookup := expand.ListEnviron(env...)
	return &Shell{o: o, env: env, lookup: lookup, path: lookup.Get("PATH").String(), anyProgram: o.Policy.AllowsAnyProgram()}
}

// CleanEnv drops the runner's own FLASHDUTY_* variables (the API key among
// them) and its internal _FLASHDUTY_* ones from an environment, except the
// names in keep (a call's own env).
func CleanEnv(env []string, keep ...string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if up := strings.ToUpper(kv); !strings.HasPrefix(up, "FLASHDUTY_") && !strings.HasPrefix(up, "_FLASHDUTY_") || slices.Contains(keep, name) {
			out = append(out, kv)
		}
	}
	return out
}

type args struct {
	Command string   `json:"command"`
	Workdir string   `json:"workdir"`
	Timeout *float64 `json:"timeout"`
	// Env is added to the command's environment: the platform hands each
	// call the member's own credentials this way.
	Env map[string]string `json:"env"`
}

// Result is the bash result object (docs/protocol.md).
type Result struct {
	Stdout    string `json:"stdout"`
	Stderr    string `json:"stderr"`
	ExitCode  int    `json:"exit_code"`
	Truncated bool   `json:"truncated,omitempty"`
	FilePath  string `json:"file_path,omitempty"`
	TotalSize int64  `json:"total_size"`
}

// Run is the dispatch.Operation for `bash`.
func (s *Shell) Run(ctx context.Context, raw json.RawMessage, audit *dispatch.Audit) (any, error) {
	return dispatch.Op("bash", s.bash)(ctx, raw, audit)
}

func (s *Shell) bash(ctx context.Context, a args, audit *dispatch.Audit) (any, error) {
	audit.Target = a.Command
	if a.Command == "" {
		return nil, errors.New("invalid bash args: command is required")
	}
	timeout, err := dispatch.Timeout("bash", a.Timeout, s.o.DefaultTimeout, s.o.MaxTimeout)
	if err != nil {
		return nil, err
	}
	file, err := permission.Parse(a.Command)
	if err != nil {
		return nil, err
	}
	verdict := s.o.Policy.CheckParsed(ctx, file, a.Command)
	s.logDecisions(ctx, verdict.Decisions, "static")
	if !verdict.Allowed {
		s.deny(ctx, audit, verdict)
		return nil, verdict.Err
	}
	audit.Decision = permission.Allow
	if d := lastRule(verdict.Decisions); d != nil {
		audit.Rule = d.Rule.Pattern
	}
	dir, err := workspace.Dir(s.o.Root, a.Workdir)
	if err != nil {
		return nil, err
	}
	if err := s.checkCallEnv(ctx, a.Env); err != nil {
		return nil, err
	}
	res, err := s.exec(ctx, file, dir, timeout, a.Env, audit)
	if err != nil {
		return nil, err
	}
	audit.ExitCode = res.ExitCode
	return res, nil
}

// checkCallEnv checks a call's env as assignments written before the
// command: a name must be a variable name; a loader variable needs a rule
// that names it, and a steering one (HOME, PATH, KUBECONFIG…) must pass
// the rules as `NAME=VALUE`.
func (s *Shell) checkCallEnv(ctx context.Context, env map[string]string) error {
	for name, value := range env {
		switch {
		case !permission.IsVariableName(name):
			return fmt.Errorf("invalid bash args: env name %q is not a variable name", name)
		case permission.IsLoaderVariable(name) && !s.o.Policy.NamesVariable(name):
			return fmt.Errorf("bash env sets %s, which makes programs load or run other code; allow it with a rule that names %s=", name, name)
		case permission.IsSteeringVariable(name):
			if v := s.o.Policy.Check(name + "='" + strings.ReplaceAll(value, "'", `'\''`) + "'"); !v.Allowed {
				return fmt.Errorf("bash env: %w", v.Err)
			}
		}
	}
	return nil
}

// exec runs the checked program, with callEnv (checked) added to its
// environment; the values of callEnv are secrets of the task, redacted
// from everything it returns.
func (s *Shell) exec(ctx context.Context, file *syntax.File, dir string, timeout time.Duration, callEnv map[string]string, audit *dispatch.Audit) (*Result, error) {
	runCtx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer cancel()
	stdout, stderr := &capped{max: s.o.MaxOutput}, &capped{max: s.o.MaxOutput}
	red, env, keep := s.o.Redactor, s.env, []string(nil)
	if len(callEnv) > 0 {
		var values []string
		for name, value := range callEnv {
			env = append(withoutVar(env, name), name+"="+value)
			values, keep = append(values, value), append(keep, name)
		}
		red = red.With(values...)
	}
	// Redacted before the cap: a secret that straddles the cut would
	// otherwise leave without its tail, unrecognised.
	outW, errW := redacting(red, stdout), redacting(red, stderr)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, fmt.Errorf("open %s for stdin: %w", os.DevNull, err)
	}
	defer devnull.Close()
	procs := &groups{}
	defer procs.killAll() // nothing the command started outlives the task
	task, release, err := s.o.Sandbox.NewTask()
	if err != nil {
		return nil, err
	}
	defer release() // after killAll (deferred later, run earlier)
	tr := &taskRun{task: task, procs: procs, fifos: &fifos{dir: task.FifoDir}, keep: append(keep, managedVar)}
	defer tr.fifos.close()
	if err := s.fifosFor(tr, file); err != nil {
		return nil, err
	}

	runner, err := s.interpreter(runCtx, tr, s.o.Sandbox.Env(env, task),
		interp.Dir(dir),
		interp.StdIO(devnull, outW, errW),
	)
	if err != nil {
		return nil, err
	}
	// Whatever the script waits on when its time is up (a process
	// substitution nobody opens, `cat < >(…)`), it is released.
	ran := make(chan struct{})
	stopReaper := context.AfterFunc(runCtx, func() { tr.fifos.releaseUntil(ran) })
	runErr := runner.Run(runCtx, file)
	// The script may have left background commands (`cmd &`) running:
	// they end with it, and none may start any more.
	cancel()
	tr.end()
	// Substitutions still waiting for a reader end too (closed when the
	// task's FIFOs are let go, below).
	tr.fifos.releaseAll()
	close(ran)
	stopReaper()
	procs.killAll()
	outW.Close()
	errW.Close()
	audit.Redacted(outW.Counts())
	audit.Redacted(errW.Counts())
	s.o.Sandbox.TaskEnded()

	res := &Result{}
	var denied *permission.DeniedError
	var status interp.ExitStatus
	switch {
	case errors.As(runErr, &denied):
		s.deny(ctx, audit, permission.Verdict{Decisions: []permission.Decision{denied.Decision}, Err: denied})
		return nil, denied
	case ctx.Err() != nil:
		return nil, context.Cause(ctx) // cancelled by the platform or shutdown
	case errors.Is(context.Cause(runCtx), errTimeout):
		res.ExitCode = TimeoutExitCode
		stderr.note(fmt.Sprintf("[flashduty-runner] command timed out after %s; its processes were killed", timeout))
	case runErr == nil:
	case errors.As(runErr, &status):
		res.ExitCode = int(status)
		if s.o.Sandbox.Enforced() && refused(stderr.String()) {
			stderr.note(sandboxNote)
		}
	default:
		// An interpreter error (bad redirection, unsupported builtin…):
		// the command ran and failed, as it would in bash.
		res.ExitCode = 1
		stderr.note(runErr.Error())
	}
	taskID := dispatch.TaskID(ctx)
	outText, outTotal := stdout.snapshot()
	errText, errTotal := stderr.snapshot()
	out := s.o.Spill.Apply("bash", taskID, outText, outTotal)
	errOut := s.o.Spill.Apply("bash_stderr", taskID, errText, errTotal)
	res.Stdout, res.Stderr = out.Content, errOut.Content
	if len(callEnv) > 0 {
		// The runner's own notes (an interpreter error) did not pass the
		// streams.
		res.Stdout, _ = red.String(res.Stdout)
		res.Stderr, _ = red.String(res.Stderr)
	}
	// Apply's own pass finds nothing new in redacted text (it counts
	// placeholders of Secret data again): the streams' counts stand.
	res.Truncated, res.FilePath, res.TotalSize = out.Truncated, out.FilePath, out.TotalSize
	if !out.Truncated && errOut.Truncated {
		res.Truncated, res.FilePath = true, errOut.FilePath
	}
	audit.Bytes = outTotal + errTotal
	return res, nil
}

var errTimeout = errors.New("command timed out")

// interpreter returns an interpreter with environment env whose
// handlers check and confine everything it runs, reads and writes. Its
// process-substitution FIFOs are made in the task's FIFO directory, which
// the task cannot write, whatever TMPDIR the script sets: the interpreter
// opens names there itself, without the open handler, and it takes the
// directory from TMPDIR when it is first reset. The script then sees the
// task's own TMPDIR.
func (s *Shell) interpreter(ctx context.Context, tr *taskRun, env []string, opts ...interp.RunnerOption) (*interp.Runner, error) {
	task := tr.task
	if task.FifoDir != "" {
		env = append(withoutVar(env, "TMPDIR"), "TMPDIR="+task.FifoDir)
	}
	r, err := interp.New(append(opts,
		interp.Env(expand.ListEnviron(env...)),
		interp.CallHandler(s.callHandler(tr)),
		interp.ExecHandlers(func(interp.ExecHandlerFunc) interp.ExecHandlerFunc { return s.execHandler(tr) }),
		interp.OpenHandler(s.openHandler(task)),
	)...)
	if err != nil {
		return nil, fmt.Errorf("start interpreter: %w", err)
	}
	r.Reset()
	if task.TmpDir != "" {
		set := &syntax.Stmt{Cmd: &syntax.CallExpr{Assigns: []*syntax.Assign{{
			Name:  &syntax.Lit{Value: "TMPDIR"},
			Value: &syntax.Word{Parts: []syntax.WordPart{&syntax.SglQuoted{Value: task.TmpDir}}},
		}}}}
		if err := r.Run(ctx, set); err != nil {
			return nil, fmt.Errorf("start interpreter: set TMPDIR: %w", err)
		}
	}
	return r, nil
}

// fifosFor makes the task's FIFO directory when file uses process
// substitution (most scripts do not, and a directory costs as much as a
// process to make).
func (s *Shell) fifosFor(tr *taskRun, file *syntax.File) error {
	uses := false
	syntax.Walk(file, func(n syntax.Node) bool {
		_, ps := n.(*syntax.ProcSubst)
		uses = uses || ps
		return !uses
	})
	if !uses {
		return nil
	}
	return s.o.Sandbox.MakeFifoDir(tr.task)
}

// withoutVar drops name's entries from env.
func withoutVar(env []string, name string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// embedded runs `bash -c SCRIPT` in the runner's own interpreter, as a
// child shell would: its own variables (the exported ones inherited), its
// own directory, the same standard streams, and the same checks on every
// command and write.
func (s *Shell) embedded(ctx context.Context, e permission.Embedded, tr *taskRun) error {
	hc := interp.HandlerCtx(ctx)
	file, err := permission.Parse(e.Script)
	if err != nil {
		fmt.Fprintln(hc.Stderr, err)
		return interp.ExitStatus(2)
	}
	if err := s.fifosFor(tr, file); err != nil {
		fmt.Fprintln(hc.Stderr, err)
		return interp.ExitStatus(1)
	}
	params := append(append([]string(nil), e.Options...), "--")
	r, err := s.interpreter(ctx, tr, exported(hc.Env),
		interp.Dir(hc.Dir),
		interp.StdIO(hc.Stdin, hc.Stdout, hc.Stderr),
		interp.Params(append(params, e.Args...)...),
	)
	if err != nil {
		return err
	}
	err = r.Run(ctx, file)
	var status interp.ExitStatus
	var denied *permission.DeniedError
	switch {
	case err == nil, errors.As(err, &status), errors.As(err, &denied), ctx.Err() != nil:
		return err
	default:
		fmt.Fprintln(hc.Stderr, err)
		return interp.ExitStatus(1)
	}
}

func (s *Shell) deny(ctx context.Context, audit *dispatch.Audit, v permission.Verdict) {
	audit.Decision = permission.Deny
	for _, d := range v.Decisions {
		if !d.Allowed {
			rule, pos := "(no matching allow rule)", 0
			if d.Rule != nil {
				rule, pos = d.Rule.Pattern, d.Index
			}
			audit.Rule = rule
			s.o.Logger.Info("command denied", "task_id", dispatch.TaskID(ctx), "command", s.show(d.Command), "rule", rule, "rule_position", pos)
			return
		}
	}
}

func (s *Shell) logDecisions(ctx context.Context, ds []permission.Decision, stage string) {
	log := s.o.Logger.V(1)
	if !log.Enabled() {
		return
	}
	for _, d := range ds {
		rule := "(none)"
		if d.Rule != nil {
			rule = fmt.Sprintf("%d:%s=%s", d.Index, d.Rule.Pattern, d.Rule.Action)
		}
		log.Info("permission decision", "task_id", dispatch.TaskID(ctx), "stage", stage, "command", s.show(d.Command), "allowed", d.Allowed, "rule", rule)
	}
}

func lastRule(ds []permission.Decision) *permission.Decision {
	for i := len(ds) - 1; i >= 0; i-- {
		if ds[i].Rule != nil {
			return &ds[i]
		}
	}
	return nil
}

// show prepares a command for a log line: redacted and cut.
func (s *Shell) show(cmd string) string {
	cmd, _ = s.o.Redactor.String(cmd)
	if len(cmd) > 512 {
		return cmd[:512] + "…"
	}
	return cmd
}

// callHandler checks every simple command (builtins, functions and the
// commands eval and source run included) with its real arguments; a file
// that source runs is checked as a whole before it runs. It bounds the
// process substitutions waiting for a reader, and gives back those of a
// builtin at once: a builtin never opens its arguments (but source).
func (s *Shell) callHandler(tr *taskRun) interp.CallHandlerFunc {
	return func(ctx context.Context, args []string) ([]string, error) {
		v := s.o.Policy.CheckArgsIn(ctx, interp.HandlerCtx(ctx).Dir, args)
		s.logDecisions(ctx, v.Decisions, "runtime")
		if !v.Allowed {
			return nil, v.Err
		}
		if err := tr.fifos.check(args); err != nil {
			return nil, err
		}
		switch {
		case (args[0] == "source" || args[0] == ".") && len(args) > 1:
			if err := s.checkSourced(ctx, tr.task, args[1]); err != nil {
				return nil, err
			}
		case interp.IsBuiltin(args[0]):
			tr.fifos.release(args[1:])
		}
		return args, nil
	}
}

// checkSourced checks the script a source command runs, as if written in
// the task; the file is read inside the task's boundary.
func (s *Shell) checkSourced(ctx context.Context, task sandbox.Task, name string) error {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(interp.HandlerCtx(ctx).Dir, path)
	}
	if sandbox.Within(path, task.FifoDir) {
		return nil // a process substitution: its commands are checked as they run
	}
	f, err := s.o.Sandbox.Open(ctx, task, path, os.O_RDONLY, 0)
	if err != nil {
		return nil // source itself reports the missing file
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, permission.MaxCommandBytes+1))
	if err != nil {
		return fmt.Errorf("read %s to check it: %w", name, err)
	}
	v := s.o.Policy.Check(string(b))
	s.logDecisions(ctx, v.Decisions, "source")
	if !v.Allowed {
		return fmt.Errorf("source %s: %w", name, v.Err)
	}
	return nil
}

// sandboxNote follows a failed command's own "Permission denied" when
// the sandbox is on, so the platform knows which layer refused.
const sandboxNote = "[flashduty-runner] the sandbox (Landlock) may have refused this: children execute only the programs the rules approved and write only the workspace, $TMPDIR, $HOME and sandbox.allow_write (docs/sandbox.md)"

// refused reports a program's own words for a refusal by the kernel.
func refused(stderr string) bool {
	return strings.Contains(stderr, "Permission denied") || strings.Contains(stderr, "Operation not permitted")
}

// openHandler opens every file the shell itself opens for a task
// (redirections, here-strings, `$(< file)`) inside the task's boundary,
// as its children would (sandbox.Open: decided on the opened descriptor,
// so links and races lead nowhere else). Writes are checked against the rules first: the path
// as written, where it lands (after cd) and the file it reaches through
// links (`ln -s /etc/passwd p; echo > p`) must all pass.
func (s *Shell) openHandler(task sandbox.Task) interp.OpenHandlerFunc {
	return func(ctx context.Context, path string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
		if path == os.DevNull {
			return os.OpenFile(path, flag, perm)
		}
		if f, ok := standardStream(interp.HandlerCtx(ctx), path); ok {
			return f, nil
		}
		abs := path
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(interp.HandlerCtx(ctx).Dir, abs)
		}
		write := flag&(os.O_WRONLY|os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_TRUNC) != 0
		if !write {
			for _, p := range []string{abs, sandbox.RealPath(abs)} {
				if d := s.o.Policy.CheckRead(p); p != "" && !d.Allowed {
					return nil, d.Err()
				}
			}
		}
		if write {
			paths := []string{path, abs}
			if real := sandbox.RealPath(abs); real != "" && real != abs {
				paths = append(paths, real)
			}
			for _, p := range paths {
				if d := s.o.Policy.CheckWrite(p); !d.Allowed {
					return nil, d.Err()
				}
			}
		}
		f, err := s.o.Sandbox.Open(ctx, task, abs, flag, perm)
		if err != nil && s.o.Sandbox.Enforced() && errors.Is(err, syscall.EACCES) {
			why := errOutsideReadScope
			if write {
				why = errOutsideWriteScope
			}
			return nil, &os.PathError{Op: "open", Path: path, Err: why}
		}
		if err != nil {
			return nil, err
		}
		return f, nil
	}
}

// standardStream gives the task's own streams for their /dev names: the
// runner opening them would reach its own standard streams instead.
func standardStream(hc interp.HandlerContext, path string) (io.ReadWriteCloser, bool) {
	switch path {
	case "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0":
		return stream{r: hc.Stdin}, true
	case "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1":
		return stream{w: hc.Stdout}, true
	case "/dev/stderr", "/dev/fd/2", "/proc/self/fd/2":
		return stream{w: hc.Stderr}, true
	}
	return nil, false
}

// stream is a standard stream reopened by name; closing it leaves the
// stream open.
type stream struct {
	r io.Reader
	w io.Writer
}

func (s stream) Read(p []byte) (int, error) {
	if s.r == nil {
		return 0, io.EOF
	}
	return s.r.Read(p)
}

func (s stream) Write(p []byte) (int, error) {
	if s.w == nil {
		return 0, os.ErrInvalid
	}
	return s.w.Write(p)
}

func (stream) Close() error { return nil }

var (
	errOutsideWriteScope = errors.New("permission denied by the sandbox: outside the workspace, $TMPDIR, $HOME and sandbox.allow_write")
	errOutsideReadScope  = errors.New("permission denied by the sandbox: the runner's own files are not readable by tasks")
)

// execHandler runs a program in its own process group, so that a timeout
// or cancel kills it and everything it started. Unlike the interpreter's
// default handler it never falls back to running a file as an unchecked
// script.
func (s *Shell) execHandler(tr *taskRun) interp.ExecHandlerFunc {
	task, procs := tr.task, tr.procs
	return func(ctx context.Context, args []string) error {
		if !tr.begin() {
			return context.Canceled // the task has ended
		}
		defer tr.done()
		v := s.o.Policy.CheckArgsIn(ctx, interp.HandlerCtx(ctx).Dir, args)
		if !v.Allowed {
			return v.Err
		}
		if e, ok := permission.EmbeddedShell(args); ok {
			return s.embedded(ctx, e, tr)
		}
		hc := interp.HandlerCtx(ctx)
		path, err := interp.LookPathDir(hc.Dir, s.lookup, args[0])
		if err != nil {
			fmt.Fprintln(hc.Stderr, err)
			return interp.ExitStatus(127)
		}
		if err := s.checkLinkTarget(ctx, path, args); err != nil {
			return err
		}
		if filepath.Base(path) == "git" {
			if err := s.checkGitConfig(ctx, task, hc.Env, hc.Dir, args); err != nil {
				fmt.Fprintln(hc.Stderr, err)
				return interp.ExitStatus(126)
			}
		}
		cmd := exec.CommandContext(ctx, path)
		cmd.Args = args
		cmd.Env = s.o.Policy.ChildEnv(CleanEnv(exported(hc.Env), tr.keep...))
		cmd.Dir = hc.Dir
		cmd.Stdin, cmd.Stdout, cmd.Stderr = hc.Stdin, hc.Stdout, hc.Stderr
		// A session of its own: its own process group (killed as one),
		// and no controlling terminal to read or push keystrokes into.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = killWait
		x := sandbox.Exec{Programs: []string{path}, Any: s.anyProgram, Path: s.path}
		for _, name := range v.Programs {
			if p, err := interp.LookPathDir(hc.Dir, s.lookup, name); err == nil {
				x.Programs = append(x.Programs, p)
			}
		}
		untrack, err := s.o.Sandbox.Start(task, x, func() (int, error) {
			if err := cmd.Start(); err != nil {
				return 0, err
			}
			return cmd.Process.Pid, nil
		})
		if err != nil {
			fmt.Fprintln(hc.Stderr, err)
			if s.o.Sandbox.Enforced() && errors.Is(err, syscall.EACCES) {
				fmt.Fprintln(hc.Stderr, sandboxNote)
			}
			return interp.ExitStatus(126)
		}
		procs.add(cmd.Process.Pid)
		err = cmd.Wait()
		untrack()
		tr.fifos.release(args[1:])
		var exitErr *exec.ExitError
		switch {
		case err == nil, errors.Is(err, exec.ErrWaitDelay):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &exitErr):
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return interp.ExitStatus(128 + int(ws.Signal()))
			}
			return interp.ExitStatus(exitErr.ExitCode())
		}
		return err
	}
}

// checkLinkTarget checks, for a program run by its path, the program a
// link leads to (sandbox.Disguised) with the same arguments. Programs
// found on the runner's PATH are not links a task made.
func (s *Shell) checkLinkTarget(ctx context.Context, path string, args []string) error {
	// The loader under any name (a system link such as /usr/bin/ld.so
	// included) is checked as the loader.
	if real, err := filepath.EvalSymlinks(path); err == nil && permission.IsLoaderProgram(filepath.Base(real)) {
		if v := s.o.Policy.CheckArgs(ctx, append([]string{real}, args[1:]...)); !v.Allowed {
			return v.Err
		}
	}
	real, ok := sandbox.Disguised(path)
	if !ok || !strings.Contains(args[0], "/") {
		return nil
	}
	if v := s.o.Policy.CheckArgs(ctx, append([]string{real}, args[1:]...)); !v.Allowed {
		return v.Err
	}
	return nil
}

// exported lists the exported string variables of the interpreter.
func exported(env expand.Environ) []string {
	var out []string
	for name, v := range env.Each {
		if v.Exported && v.Kind == expand.String && v.IsSet() {
			out = append(out, name+"="+v.String())
		}
	}
	return out
}

// taskRun is what the handlers of one task's interpreters share.
type taskRun struct {
	task  sandbox.Task
	procs *groups
	fifos *fifos
	keep  []string // FLASHDUTY_* names children keep: the call's env's, managedVar

	mu      sync.Mutex
	idle    *sync.Cond
	running int  // exec handlers under way
	ended   bool // no exec handler may begin
}

// begin admits an exec handler unless the task has ended.
func (tr *taskRun) begin() bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.ended {
		return false
	}
	tr.running++
	return true
}

func (tr *taskRun) done() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.running--; tr.running == 0 && tr.idle != nil {
		tr.idle.Broadcast()
	}
}

// end refuses new exec handlers and waits for those under way (their
// context is cancelled: they end within the kill wait).
func (tr *taskRun) end() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.ended = true
	if tr.idle == nil {
		tr.idle = sync.NewCond(&tr.mu)
	}
	for tr.running > 0 {
		tr.idle.Wait()
	}
}

// groups remembers the process groups a task started.
type groups struct {
	mu   sync.Mutex
	pgid []int
}

func (g *groups) add(pgid int) {
	g.mu.Lock()
	g.pgid = append(g.pgid, pgid)
	g.mu.Unlock()
}

func (g *groups) killAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.pgid {
		_ = syscall.Kill(-p, syscall.SIGKILL) // ESRCH when already gone
	}
	g.pgid = nil
}

// redacting returns the writer a task's output goes through: redacted,
// then capped. Children and builtins write concurrently.
func redacting(red *redact.Redactor, c *capped) *redactingWriter {
	w := &redactingWriter{dst: c}
	if red != nil {
		w.stream = red.NewStream(c)
	}
	return w
}

type redactingWriter struct {
	mu     sync.Mutex
	dst    *capped
	stream *redact.Stream // nil: no redaction
	closed bool
}

func (w *redactingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return len(p), nil // after the task's result was taken
	}
	if w.stream == nil {
		return w.dst.Write(p)
	}
	_, _ = w.stream.Write(p)
	return len(p), nil // a command's output is never refused
}

// Close flushes the last partial line.
func (w *redactingWriter) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.stream != nil {
		_ = w.stream.Close()
	}
}

// Counts is what was redacted.
func (w *redactingWriter) Counts() redact.Counts {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stream == nil {
		return nil
	}
	return w.stream.Counts()
}

// capped keeps the first max bytes and counts the rest.
type capped struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	total int64
	notes []string
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total += int64(len(p))
	if room := c.max - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil // never fail the writer: a full buffer is not the command's problem
}

func (c *capped) note(s string) {
	c.mu.Lock()
	c.notes = append(c.notes, s)
	c.mu.Unlock()
}

// snapshot is the text and the total so far, together: the interpreter's
// own goroutines (a process substitution's) may still write.
func (c *capped) snapshot() (string, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.string(), c.total
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.string()
}

func (c *capped) string() string {
	s := string(c.buf)
	if c.total > int64(len(c.buf)) {
		s += fmt.Sprintf("\n[flashduty-runner] output cut at %d bytes; %d bytes in all\n", len(c.buf), c.total)
	}
	for _, n := range c.notes {
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		s += n + "\n"
	}
	return s
}
