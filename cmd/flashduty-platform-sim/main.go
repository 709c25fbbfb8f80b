// Command flashduty-platform-sim is a local stand-in for the Flashduty
// platform: it accepts runners on loopback, shows them, and sends the
// tasks you type (or a script lists), printing each result readably.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/flashcatcloud/flashduty-runner-k8s/test/platformsim"
)

const usage = `flashduty-platform-sim: a local Flashduty platform for trying the runner.

Usage:
  flashduty-platform-sim [--addr 127.0.0.1:8090] [--api-key KEY] [--script FILE]

Point a runner at it:
  FLASHDUTY_RUNNER_API_KEY=KEY FLASHDUTY_RUNNER_API_URL=ws://127.0.0.1:8090/safari/worknode/ws flashduty-runner run

Then type commands (or list them in --script FILE, one per line):
` + platformsim.ScriptHelp + `
Flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("flashduty-platform-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	addr := fs.String("addr", "127.0.0.1:8090", "address to listen on (keep it on loopback)")
	key := fs.String("api-key", "", "the only API key accepted (default: any non-empty key)")
	script := fs.String("script", "", "read commands from this file instead of standard input")
	timeout := fs.Duration("timeout", 150*time.Second, "how long to wait for each task's result")
	waitRunner := fs.Duration("wait-runner", 60*time.Second, "how long to wait for a runner before the first task")
	verbose := fs.Bool("verbose", false, "print every frame, heartbeats included")
	keep := fs.Bool("keep-running", false, "keep serving after the commands end, until SIGINT or SIGTERM")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	in := stdin
	if *script != "" {
		f, err := os.Open(*script)
		if err != nil {
			fmt.Fprintf(stderr, "flashduty-platform-sim: %v\n", err)
			return 2
		}
		defer f.Close()
		in = f
	}
	out := &platformsim.SyncWriter{W: stdout}
	sim, err := platformsim.Start(platformsim.Options{Addr: *addr, APIKey: *key, OnEvent: platformsim.EventPrinter(out, *verbose)})
	if err != nil {
		fmt.Fprintf(stderr, "flashduty-platform-sim: %v\n", err)
		return 1
	}
	defer sim.Close()
	fmt.Fprintf(out, "platform simulator listening on %s\n", sim.URL())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	p := &platformsim.Player{Sim: sim, Out: out, Timeout: *timeout, WaitRunner: *waitRunner}
	failed, err := p.Play(ctx, in)
	if err != nil {
		fmt.Fprintf(stderr, "flashduty-platform-sim: %v\n", err)
		return 1
	}
	if *keep {
		<-ctx.Done()
	}
	if v := sim.Violations(); len(v) > 0 {
		fmt.Fprintf(out, "protocol violations by the runner:\n  %s\n", strings.Join(v, "\n  "))
		return 1
	}
	if failed > 0 {
		fmt.Fprintf(out, "%d expectation(s) failed\n", failed)
		return 1
	}
	return 0
}
