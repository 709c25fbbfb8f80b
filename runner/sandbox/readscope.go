package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// readGrants lists paths whose subtrees together hold everything except
// the secrets: Landlock only grants, so "all but these files" becomes
// every sibling along the way down to each secret. Entries that are
// symbolic links are judged by their target, since a rule follows them.
// Files created later beside a secret are not readable by children.
func readGrants(secrets []string) ([]string, error) {
	var real []string
	for _, s := range secrets {
		r := RealPath(s)
		if r == "" {
			return nil, fmt.Errorf("sandbox: secret path %q cannot be resolved", s)
		}
		real = append(real, r)
	}
	var out []string
	var walk func(dir string) error
	walk = func(dir string) error {
		entries, err := os.ReadDir(dir)
		if err != nil && dir != "/" && errors.Is(err, fs.ErrNotExist) {
			return nil // removed since its parent was listed
		}
		if err != nil {
			return fmt.Errorf("sandbox: list %s to exclude secrets from reads: %w", dir, err)
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			target := p
			if e.Type()&os.ModeSymlink != 0 {
				if target = RealPath(p); target == "" {
					continue // dangling: nothing to read
				}
			}
			switch {
			case holdsSecret(target, real) && e.Type()&os.ModeSymlink != 0:
				// A link to a secret or to a directory above one: leave
				// it out; its target is covered by its real path.
			case isSecret(target, real):
			case holdsSecret(target, real) && e.IsDir():
				if err := walk(p); err != nil {
					return err
				}
			default:
				out = append(out, p)
			}
		}
		return nil
	}
	if err := walk("/"); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

func isSecret(p string, secrets []string) bool {
	for _, s := range secrets {
		if p == s {
			return true
		}
	}
	return false
}

// holdsSecret reports whether a secret is p or below p.
func holdsSecret(p string, secrets []string) bool {
	for _, s := range secrets {
		if within(s, p) {
			return true
		}
	}
	return false
}
