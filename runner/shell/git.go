package shell

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/expand"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
	"github.com/flashcatcloud/flashduty-runner-k8s/runner/sandbox"
)

// Bounds of reading git's configuration before git starts.
const (
	maxGitConfigFiles = 32
	maxGitConfigBytes = 1 << 20
)

// checkGitConfig refuses to start git when a configuration file it will
// read (the repository's, the task's ~/.gitconfig, their includes, the
// GIT_CONFIG_* variables) sets a program for git to run
// (permission.ReadGitConfig): such files are written by tasks. The files
// are read inside the task's boundary, like every open for a task.
func (s *Shell) checkGitConfig(ctx context.Context, task sandbox.Task, env expand.Environ, dir string, args []string) error {
	files := gitConfigFiles(env, dir, args)
	seen := map[string]bool{}
	for i := 0; i < len(files) && i < maxGitConfigFiles; i++ {
		name := files[i]
		if seen[name] {
			continue
		}
		seen[name] = true
		text, ok := s.readConfig(ctx, task, name)
		if !ok {
			continue
		}
		c := permission.ReadGitConfig(text)
		if len(c.Programs) > 0 {
			return fmt.Errorf("git would run the program set by %s in %s; denied (git settings that run programs are refused where tasks can write them)", c.Programs[0], name)
		}
		for _, inc := range c.Includes {
			files = append(files, gitPath(inc, filepath.Dir(name), env.Get("HOME").String()))
		}
	}
	for i := range gitConfigCount(env) {
		key := strings.ToLower(env.Get("GIT_CONFIG_KEY_" + strconv.Itoa(i)).String())
		value := env.Get("GIT_CONFIG_VALUE_" + strconv.Itoa(i)).String()
		if c := permission.ReadGitConfig(key + " = " + value); len(c.Programs) > 0 || len(c.Includes) > 0 {
			return fmt.Errorf("git would run the program set by GIT_CONFIG_KEY_%d=%s; denied", i, key)
		}
	}
	return nil
}

func (s *Shell) readConfig(ctx context.Context, task sandbox.Task, name string) (string, bool) {
	f, err := s.o.Sandbox.Open(ctx, task, name, os.O_RDONLY, 0)
	if err != nil {
		return "", false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxGitConfigBytes))
	return string(b), err == nil
}

func gitConfigCount(env expand.Environ) int {
	n, err := strconv.Atoi(env.Get("GIT_CONFIG_COUNT").String())
	if err != nil || n < 0 {
		return 0
	}
	return min(n, 1000)
}

// gitConfigFiles lists the files git reads settings from for args run in
// dir, the system file aside (tasks cannot write it). The repository is
// found as git finds it: -C, --git-dir, GIT_DIR, or the nearest .git
// above the directory.
func gitConfigFiles(env expand.Environ, dir string, args []string) []string {
	home := env.Get("HOME").String()
	var files []string
	if v := env.Get("GIT_CONFIG_GLOBAL").String(); v != "" {
		files = append(files, gitPath(v, dir, home))
	} else if home != "" {
		files = append(files, filepath.Join(home, ".gitconfig"))
		xdg := env.Get("XDG_CONFIG_HOME").String()
		if xdg == "" {
			xdg = filepath.Join(home, ".config")
		}
		files = append(files, filepath.Join(xdg, "git", "config"))
	}
	if v := env.Get("GIT_CONFIG").String(); v != "" {
		files = append(files, gitPath(v, dir, home))
	}
	gitDir := env.Get("GIT_DIR").String()
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-C" && i+1 < len(args):
			i++
			dir = gitPath(args[i], dir, home)
		case a == "--git-dir" && i+1 < len(args):
			i++
			gitDir = args[i]
		case strings.HasPrefix(a, "--git-dir="):
			gitDir = strings.TrimPrefix(a, "--git-dir=")
		case a == "-c" || a == "--work-tree" || a == "--namespace" || a == "--exec-path" || a == "--config-env":
			i++
		case !strings.HasPrefix(a, "-"):
			i = len(args) // the subcommand: global options end
		}
	}
	if gitDir != "" {
		return append(files, repoConfig(gitPath(gitDir, dir, home))...)
	}
	for d := dir; ; d = filepath.Dir(d) {
		dotGit := filepath.Join(d, ".git")
		if st, err := os.Stat(dotGit); err == nil {
			if st.IsDir() {
				return append(files, repoConfig(dotGit)...)
			}
			if b, err := os.ReadFile(dotGit); err == nil {
				if target, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:"); ok {
					return append(files, repoConfig(gitPath(strings.TrimSpace(target), d, home))...)
				}
			}
		}
		if st, err := os.Stat(filepath.Join(d, "config")); err == nil && !st.IsDir() && isGitDir(d) {
			return append(files, repoConfig(d)...) // a bare repository
		}
		if d == filepath.Dir(d) {
			return files
		}
	}
}

// repoConfig lists a git directory's configuration files: its own, its
// worktree's, and its common directory's (a linked worktree).
func repoConfig(gitDir string) []string {
	out := []string{filepath.Join(gitDir, "config"), filepath.Join(gitDir, "config.worktree")}
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		common := gitPath(strings.TrimSpace(string(b)), gitDir, "")
		out = append(out, filepath.Join(common, "config"), filepath.Join(common, "config.worktree"))
	}
	return out
}

func isGitDir(d string) bool {
	_, err1 := os.Stat(filepath.Join(d, "HEAD"))
	_, err2 := os.Stat(filepath.Join(d, "objects"))
	return err1 == nil && err2 == nil
}

// gitPath makes a path git reads absolute: ~/ is HOME, relative is
// against base.
func gitPath(p, base, home string) string {
	switch {
	case strings.HasPrefix(p, "~/") && home != "":
		return filepath.Join(home, p[2:])
	case filepath.IsAbs(p):
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}
