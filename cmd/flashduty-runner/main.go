// Command flashduty-runner is the Flashduty worknode: it keeps one
// outbound WebSocket to the platform and runs tasks on its behalf.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/agent"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
)

// Set by -ldflags "-X main.version=… -X main.commit=… -X main.date=…".
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

const usage = `flashduty-runner: the Flashduty AI SRE worknode.

Usage:
  flashduty-runner run [--config FILE] [flags]   connect to Flashduty and run tasks
  flashduty-runner check [--config FILE] [--json] -- 'COMMAND'
                                                 decide a command against the rules; run nothing
  flashduty-runner version                       print version, commit and build date

Configuration comes from the file (default ~/.flashduty-runner/config.yaml),
then FLASHDUTY_RUNNER_* environment variables, then flags. The API key is
never a flag: use the file or FLASHDUTY_RUNNER_API_KEY.
Run 'flashduty-runner run --help' for every flag.
`

func main() {
	env, err := handOffSecrets(os.Args[1:], os.Environ())
	if err != nil {
		fmt.Fprintf(os.Stderr, "flashduty-runner: %v\n", err)
		os.Exit(2)
	}
	os.Exit(run(os.Args[1:], env, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args, env []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], env, stderr)
	case "check":
		return cmdCheck(args[1:], env, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "flashduty-runner %s (commit %s, built %s, %s %s/%s)\n", version, commit, date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "flashduty-runner: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// configFlags registers --config and one flag per non-secret key, and
// returns a loader that applies only the flags actually given.
func configFlags(fs *flag.FlagSet, env []string, noKey bool) func() (*config.Config, error) {
	path := fs.String("config", "", "config file (default ~/.flashduty-runner/config.yaml)")
	envMode := fs.String("env-overrides", envAll, "which "+config.EnvPrefix+"* variables apply: "+envAll+", or "+envKeyOnly+
		" (only the API key; any other is an error, and the runner's own TLS ignores "+strings.Join(tlsVars, ", ")+")")
	values := map[string]*string{}
	keyOf := map[string]string{} // flag name → key name
	for _, k := range config.Keys() {
		if f := k.Flag(); f != "" {
			values[k.Name] = new(string)
			var v flag.Value = (*stringFlag)(values[k.Name])
			if k.Bool {
				v = (*boolFlag)(values[k.Name])
			}
			fs.Var(v, f, k.Usage+" (env "+k.Env()+")")
			keyOf[f] = k.Name
			for _, a := range k.FlagAliases {
				fs.Var(v, a, "the same as --"+f+" (as the upstream runner spells it)")
				keyOf[a] = k.Name
			}
		}
	}
	return func() (*config.Config, error) {
		flags := map[string]string{}
		fs.Visit(func(f *flag.Flag) {
			if name, ok := keyOf[f.Name]; ok {
				flags[name] = *values[name]
			}
		})
		switch *envMode {
		case envAll:
		case envKeyOnly:
			if err := keyOnly(env); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("--env-overrides: %q is neither %s nor %s", *envMode, envAll, envKeyOnly)
		}
		home, _ := os.UserHomeDir()
		hostname, _ := os.Hostname()
		src := config.Source{Env: env, Flags: flags, Identity: config.Identity{Home: home, Hostname: hostname}, NoKey: noKey}
		switch {
		case *path != "":
			// Absolute, so that errors and the sandbox's secret rule name
			// the file itself.
			abs, err := filepath.Abs(*path)
			if err != nil {
				return nil, fmt.Errorf("--config %s: %w", *path, err)
			}
			src.Path, src.PathExplicit = abs, true
		case home != "":
			src.Path = config.DefaultPath(home)
		}
		return config.Load(src)
	}
}

// stringFlag and boolFlag keep a flag's value as text for config.Load.
type (
	stringFlag string
	boolFlag   string
)

func (f *stringFlag) String() string     { return string(*f) }
func (f *stringFlag) Set(v string) error { *f = stringFlag(v); return nil }
func (f *boolFlag) String() string       { return string(*f) }
func (f *boolFlag) Set(v string) error   { *f = boolFlag(v); return nil }
func (f *boolFlag) IsBoolFlag() bool     { return true }

// The --env-overrides modes. The operator runs the runner with
// envKeyOnly: whoever may set a FlashdutyRunner's envFrom must not be able
// to change what the operator decided (the platform URL on its allowlist,
// the CA), nor weaken the runner's TLS.
const (
	envAll     = "all"
	envKeyOnly = "api-key"
)

// tlsVars change how Go verifies TLS peers: under envKeyOnly the runner
// itself ignores them (its children still get them).
var tlsVars = []string{"SSL_CERT_FILE", "SSL_CERT_DIR", "GODEBUG"}

// keyOnly refuses every configuration variable but the API key's, and
// clears tlsVars from the runner's own environment. Go reads
// SSL_CERT_FILE and SSL_CERT_DIR when it first loads the system roots,
// after this, and re-reads GODEBUG when it changes.
func keyOnly(env []string) error {
	var refused []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, config.EnvPrefix) && !isSecretVar(name) {
			refused = append(refused, name)
		}
	}
	if len(refused) > 0 {
		slices.Sort(refused)
		return fmt.Errorf("--env-overrides=%s: only the API key may come from the environment, not %s (set it in the configuration)",
			envKeyOnly, strings.Join(refused, ", "))
	}
	for _, name := range tlsVars {
		if err := os.Unsetenv(name); err != nil {
			return fmt.Errorf("clear %s: %w", name, err)
		}
	}
	return nil
}

func cmdRun(args, env []string, stderr io.Writer) int {
	if err := closeOnExecInherited(); err != nil {
		fmt.Fprintf(stderr, "flashduty-runner: %v\n", err)
		return 1
	}
	fs := flag.NewFlagSet("flashduty-runner run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := configFlags(fs, env, false)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "flashduty-runner run: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "flashduty-runner: %v\n", err)
		return 2
	}
	log, flush, err := newLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "flashduty-runner: %v\n", err)
		return 2
	}
	defer flush()

	// A hang-up is no reason to stop: the terminal a runner was started
	// from may close, and as PID 1 of a container the runner would die
	// of Go's default handling of it.
	signal.Ignore(syscall.SIGHUP)
	// A goroutine starting a command holds its processor until the child
	// has executed its program (Go forks with vfork), so with one
	// processor per CPU a core idles on every start: one more keeps both
	// busy (about 3% more tasks a second at 64 at once on two cores).
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	a, err := agent.New(cfg, agent.Options{Version: version, Logger: log})
	if err != nil {
		log.Error(err, "cannot start")
		return 1
	}
	if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error(err, "runner stopped with an error")
		return 1
	}
	log.Info("runner stopped")
	return 0
}

// closeOnExecInherited marks every descriptor the runner inherited,
// beyond the standard three, close-on-exec: a descriptor its own parent
// left open (a log file, a socket, a pipe to a supervisor) must not reach
// a task's children, which could write to it.
func closeOnExecInherited() error {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil //nolint:nilerr // no /proc (not Linux): nothing to mark
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("mark inherited descriptor %d close-on-exec: %w", fd, err)
		}
	}
	return nil
}

// secretsFDVar names the descriptor from which a re-executed runner reads
// the secret variables it was started with. It does not start with
// FLASHDUTY_RUNNER_, so configuration never sees it.
const secretsFDVar = "_FLASHDUTY_RUNNER_SECRETS_FD"

// maxSecrets bounds what is read back (a pipe holds 64 KiB).
const maxSecrets = 60 << 10

// handOffSecrets keeps the API key out of the runner's environment, which
// every process of the same user can read in /proc/<pid>/environ, the
// runner's children included. A `run` started with the key in its
// environment re-executes itself (same PID) without it and reads it back
// from an inherited pipe; the returned environment, used only in memory,
// has it again.
func handOffSecrets(args, env []string) ([]string, error) {
	var secrets, rest []string
	fdText := ""
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		switch {
		case name == secretsFDVar:
			fdText = value
		case isSecretVar(name):
			secrets = append(secrets, kv)
		default:
			rest = append(rest, kv)
		}
	}
	if fdText != "" {
		return readSecrets(fdText, env)
	}
	if len(args) == 0 || args[0] != "run" || len(secrets) == 0 {
		return env, nil
	}
	data := []byte(strings.Join(secrets, "\x00"))
	if len(data) > maxSecrets {
		return env, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return env, nil //nolint:nilerr // keep running with the key in the environment
	}
	_, err = w.Write(data)
	_ = w.Close()
	exe, exeErr := os.Executable()
	if err != nil || exeErr != nil {
		_ = r.Close()
		return env, nil
	}
	fd := int(r.Fd())
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil { // let it survive exec
		_ = r.Close()
		return env, nil
	}
	err = syscall.Exec(exe, append([]string{os.Args[0]}, args...), append(rest, secretsFDVar+"="+strconv.Itoa(fd)))
	// Still here: exec failed. Run on with the key where it was.
	_ = r.Close()
	fmt.Fprintf(os.Stderr, "flashduty-runner: could not re-execute to clear the API key from the environment: %v\n", err)
	return env, nil
}

func readSecrets(fdText string, env []string) ([]string, error) {
	fd, err := strconv.Atoi(fdText)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("%s=%q is not a descriptor", secretsFDVar, fdText)
	}
	f := os.NewFile(uintptr(fd), "secrets")
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecrets+1))
	if err != nil {
		return nil, fmt.Errorf("read secrets from descriptor %d: %w", fd, err)
	}
	// The process environment too: children are started from it.
	if err := os.Unsetenv(secretsFDVar); err != nil {
		return nil, fmt.Errorf("clear %s: %w", secretsFDVar, err)
	}
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		if !strings.HasPrefix(kv, secretsFDVar+"=") {
			out = append(out, kv)
		}
	}
	for kv := range strings.SplitSeq(string(data), "\x00") {
		if kv != "" {
			out = append(out, kv)
		}
	}
	return out, nil
}

// isSecretVar reports the environment variables of secret settings.
func isSecretVar(name string) bool {
	for _, k := range config.Keys() {
		if !k.Secret {
			continue
		}
		if name == k.Env() {
			return true
		}
		for _, a := range k.Aliases {
			if name == config.EnvPrefix+a {
				return true
			}
		}
	}
	return false
}
