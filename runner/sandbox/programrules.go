package sandbox

import (
	"errors"
	"sync"
	"syscall"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// maxCachedPrograms bounds the descriptors programRules keeps open.
const maxCachedPrograms = 256

// programRules keeps the descriptors of approved programs open between
// commands: opening a program, reading back its real path and closing it
// again costs about 7 µs a file, a stat 1 µs. An entry is used only while
// its path still names the file it opened (device and inode), so a
// replaced program is opened afresh and never keeps the old file's rule.
type programRules struct {
	mu      sync.Mutex
	entries map[string]rule
}

// add adds an execute rule for each program to the ruleset, except those
// executable reports false for (see Sandbox.executable). A program that
// vanished since it was approved gets no rule: its exec fails on its own.
func (c *programRules) add(rulesetFD int, programs []string, executable func(rule) bool) error {
	// Held while the rules are added: nobody may close a descriptor
	// that is about to be added.
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range programs {
		r, err := c.get(p)
		if errors.Is(err, syscall.ENOENT) {
			continue
		}
		if err != nil {
			return err
		}
		if executable(r) {
			if err := addRule(rulesetFD, r); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *programRules) get(path string) (rule, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return rule{}, &fsError{op: "stat", path: path, err: err}
	}
	if r, ok := c.entries[path]; ok {
		if r.dev == st.Dev && r.ino == st.Ino {
			return r, nil
		}
		closeFD(r.fd)
		delete(c.entries, path)
	}
	r, err := openRule(path, ll.AccessFSExecute)
	if err != nil {
		return rule{}, err
	}
	if len(c.entries) >= maxCachedPrograms {
		c.closeAll()
	}
	if c.entries == nil {
		c.entries = map[string]rule{}
	}
	c.entries[path] = r
	return r, nil
}

func (c *programRules) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeAll()
}

func (c *programRules) closeAll() {
	for p, r := range c.entries {
		closeFD(r.fd)
		delete(c.entries, p)
	}
}
