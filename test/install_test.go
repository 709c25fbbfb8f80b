// Package test checks the install artifacts that no test can run here:
// no Docker engine or systemd runs on the build machines, so the
// Dockerfile and the unit are checked by parsing them.
package test

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"
)

type instruction struct {
	cmd, args string
	line      int
}

// parseDockerfile reads instructions, joining continuation lines.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatalf("Dockerfile ends inside a continuation")
	}
	return out
}

func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, "../Dockerfile")
	known := map[string]bool{"FROM": true, "ARG": true, "WORKDIR": true, "COPY": true, "RUN": true, "ENV": true, "VOLUME": true, "USER": true, "EXPOSE": true, "ENTRYPOINT": true, "CMD": true}
	args := map[string]string{}
	stages := map[string][]instruction{}
	stage := ""
	pinned := regexp.MustCompile(`^[a-z0-9./-]+:[A-Za-z0-9._-]*[0-9][A-Za-z0-9._-]*(@sha256:[0-9a-f]{64})?$`)
	for _, in := range ins {
		if !known[in.cmd] {
			t.Errorf("line %d: unknown instruction %s", in.line, in.cmd)
		}
		switch in.cmd {
		case "ARG":
			if k, v, ok := strings.Cut(in.args, "="); ok {
				args[k] = v
			}
		case "FROM":
			f := strings.Fields(in.args)
			image := f[0]
			for range 4 { // defaults may name other arguments, as BuildKit and buildah expand them
				image = os.Expand(image, func(k string) string { return args[k] })
			}
			if !pinned.MatchString(image) || strings.HasSuffix(image, ":latest") {
				t.Errorf("line %d: base image %s is not pinned to a version", in.line, image)
			}
			if len(f) != 3 || !strings.EqualFold(f[1], "AS") {
				t.Errorf("line %d: every stage is named", in.line)
				continue
			}
			stage = f[2]
		}
		stages[stage] = append(stages[stage], in)
		if in.cmd == "ADD" {
			t.Errorf("line %d: ADD can fetch URLs; use COPY", in.line)
		}
	}
	for _, final := range []string{"runner", "operator"} {
		var user, entry string
		for _, in := range stages[final] {
			switch in.cmd {
			case "USER":
				user = in.args
			case "ENTRYPOINT":
				entry = in.args
			}
		}
		if user == "" || strings.HasPrefix(user, "0") || strings.HasPrefix(user, "root") {
			t.Errorf("stage %s must run as a non-root user, got %q", final, user)
		}
		if entry == "" {
			t.Errorf("stage %s has no ENTRYPOINT", final)
		}
	}
	runner := ""
	for _, in := range stages["runner"] {
		runner += in.cmd + " " + in.args + "\n"
		// The operator runs the image with --env-overrides=api-key, which
		// refuses every other FLASHDUTY_RUNNER_* variable: one in the image
		// would crash every operator-managed pod.
		if in.cmd == "ENV" && strings.Contains(in.args, "FLASHDUTY_RUNNER_") {
			t.Errorf("line %d: the runner image sets %s; the operator's pods would refuse to start", in.line, in.args)
		}
	}
	// uid and gid 65532 (useradd alone picks a system gid such as 999),
	// and the diagnosis tools the read-only presets allow.
	for _, want := range []string{"VOLUME [\"/workspace\"]", `CMD ["run", "--workspace-root", "/workspace"]`, "/usr/local/bin/kubectl", "/usr/local/bin/flashduty-runner", "--gid 65532", "USER 65532:65532",
		" curl ", " jq ", " dnsutils ", " iproute2 ", " iputils-ping ", " procps ", " openssl "} {
		if !strings.Contains(runner, want) {
			t.Errorf("runner stage lacks %s", want)
		}
	}
}

func TestSystemdUnitIsHardened(t *testing.T) {
	data, err := os.ReadFile("../hack/flashduty-runner.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string]string{}
	section := ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("bad unit line %q", line)
			}
			unit[section+k] = v
		}
	}
	for k, want := range map[string]string{
		"[Service]NoNewPrivileges": "yes", "[Service]ProtectSystem": "strict", "[Service]User": "flashduty",
		"[Service]ReadWritePaths": "/var/lib/flashduty-runner", "[Service]ProtectHome": "yes", "[Service]CapabilityBoundingSet": "",
	} {
		if got, ok := unit[k]; !ok || got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if !strings.HasPrefix(unit["[Service]ExecStart"], "/usr/local/bin/flashduty-runner run") {
		t.Error("ExecStart must run the runner")
	}
}
