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
	"runtime"
	"syscall"

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
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
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
	values := map[string]*string{}
	for _, k := range config.Keys() {
		if f := k.Flag(); f != "" {
			values[k.Name] = fs.String(f, "", k.Usage+" (env "+k.Env()+")")
		}
	}
	return func() (*config.Config, error) {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		flags := map[string]string{}
		for name, v := range values {
			if set[config.FlagName(name)] {
				flags[name] = *v
			}
		}
		home, _ := os.UserHomeDir()
		hostname, _ := os.Hostname()
		src := config.Source{Env: env, Flags: flags, Identity: config.Identity{Home: home, Hostname: hostname}, NoKey: noKey}
		switch {
		case *path != "":
			src.Path, src.PathExplicit = *path, true
		case home != "":
			src.Path = config.DefaultPath(home)
		}
		return config.Load(src)
	}
}

func cmdRun(args, env []string, stderr io.Writer) int {
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
