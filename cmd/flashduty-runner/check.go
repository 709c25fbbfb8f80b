package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/config"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/sandbox"
)

// checkReport is the --json output.
type checkReport struct {
	Allowed  bool           `json:"allowed"`
	Commands []checkCommand `json:"commands"`
	Error    *string        `json:"error"`
	Sandbox  checkSandbox   `json:"sandbox"`
}

// checkSandbox says what the kernel would enforce on top of the rules.
type checkSandbox struct {
	Enforced bool   `json:"enforced"`
	Detail   string `json:"detail"`
	// Executes lists the programs the command may start, or "any system
	// program" when the rules allow programs they do not name.
	Executes []string `json:"executes"`
	// OutsideWriteScope lists allowed writes the sandbox would refuse
	// (not in the workspace or sandbox.allow_write).
	OutsideWriteScope []string `json:"outside_write_scope,omitempty"`
}

type checkCommand struct {
	Command  string            `json:"command"`
	Action   permission.Action `json:"action"`
	Rule     *string           `json:"rule"`
	Position int               `json:"position,omitempty"`
	// Reason explains a denial no rule made (an argument that needs a
	// rule naming it, a script the check cannot read).
	Reason string `json:"reason,omitempty"`
	// Hint says why a read-only class did not allow the command.
	Hint string `json:"hint,omitempty"`
}

// cmdCheck decides a command against the configured rules without
// running anything. Exit status: 0 allowed, 1 denied, 2 usage or
// configuration error.
func cmdCheck(args, env []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("flashduty-runner check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object")
	load := configFlags(fs, env, true)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: flashduty-runner check [--config FILE] [--json] -- 'COMMAND'")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	command := strings.Join(fs.Args(), " ")
	cfg, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "flashduty-runner: %v\n", err)
		return 2
	}
	policy, err := cfg.Permission.EffectiveBash().PolicyWith(permission.Options{Workspace: cfg.WorkspaceRoot})
	if err != nil {
		fmt.Fprintf(stderr, "flashduty-runner: %v\n", err)
		return 2
	}
	v := policy.Check(command)
	report := checkReport{Allowed: v.Allowed, Commands: []checkCommand{}}
	for _, d := range v.Decisions {
		c := checkCommand{Command: d.Command, Action: permission.Deny, Reason: d.Reason, Hint: d.Hint}
		if d.Allowed {
			c.Action = permission.Allow
		}
		if d.Rule != nil {
			pattern := d.Rule.Pattern
			c.Rule, c.Position = &pattern, d.Index
		}
		report.Commands = append(report.Commands, c)
	}
	if v.Err != nil {
		msg := v.Err.Error()
		report.Error = &msg
	}
	report.Sandbox = sandboxReport(cfg, policy, v)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(report)
	} else {
		printReport(stdout, report)
	}
	if !v.Allowed {
		return 1
	}
	return 0
}

func printReport(w io.Writer, r checkReport) {
	for _, c := range r.Commands {
		rule := "no rule matched (denied by default)"
		switch {
		case c.Reason != "":
			rule = c.Reason
		case c.Rule != nil:
			rule = fmt.Sprintf("rule %d %q", c.Position, *c.Rule)
		}
		fmt.Fprintf(w, "%-5s  %s\n       %s\n", strings.ToUpper(string(c.Action)), c.Command, rule)
		if c.Hint != "" {
			fmt.Fprintf(w, "       not read-only use: %s\n", c.Hint)
		}
	}
	sb := r.Sandbox
	fmt.Fprintf(w, "sandbox: %s\n", sb.Detail)
	if sb.Enforced {
		fmt.Fprintf(w, "         may execute: %s\n", strings.Join(sb.Executes, ", "))
		for _, p := range sb.OutsideWriteScope {
			fmt.Fprintf(w, "         note: %s is allowed by the rules, but the sandbox refuses writes outside the workspace; add the path to sandbox.allow_write\n", p)
		}
	}
	if r.Allowed {
		fmt.Fprintln(w, "allowed")
		return
	}
	fmt.Fprintf(w, "denied: %s\n", *r.Error)
}

func sandboxReport(cfg *config.Config, policy *permission.Policy, v permission.Verdict) checkSandbox {
	enforced, detail := sandbox.Probe(cfg.Sandbox.Mode)
	r := checkSandbox{Enforced: enforced, Detail: detail, Executes: v.Programs}
	if policy.AllowsAnyProgram() {
		r.Executes = []string{"any system program (the rules allow programs they do not name)"}
	}
	scope := append([]string{cfg.WorkspaceRoot}, cfg.Sandbox.AllowWrite...)
	for _, d := range v.Decisions {
		target, ok := strings.CutPrefix(d.Command, "> ")
		if !ok || !d.Allowed || !filepath.IsAbs(target) {
			continue
		}
		if !slices.ContainsFunc(scope, func(dir string) bool { return sandbox.Within(target, dir) }) {
			r.OutsideWriteScope = append(r.OutsideWriteScope, d.Command)
		}
	}
	return r
}
