// Package knowledge keeps the platform's Knowledge Packs (DUTY.md and
// runbooks, per account or team) in the workspace, where the platform's
// prompts tell bash tasks to read them: ~/.flashduty/knowledge/<scope>/.
// Three operations stage files, delete them and reconcile the local copy
// with the platform's manifest. Every write is confined to the store
// (os.Root), atomic (a temporary file renamed into place) and verified
// against its checksum; operations on one scope run one at a time.
package knowledge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
)

// Dir is the store, relative to the workspace root; HomeLink is what
// tasks find in their HOME for it.
const (
	Dir      = ".flashduty/knowledge"
	HomeLink = ".flashduty"
)

// The platform's pack limits.
const (
	MaxFileBytes = 1 << 20
	MaxPackBytes = 5 << 20
	MaxFiles     = 100
)

// Extensions a pack's files may have.
var Extensions = []string{".md", ".yaml", ".yml", ".json", ".txt", ".sh"}

// scopeRE: the account's scope, or a team's.
var scopeRE = regexp.MustCompile(`^(account|team_[0-9]{1,20})$`)

// Store is the knowledge store of one workspace.
type Store struct {
	root   string // the workspace root
	mu     sync.Mutex
	scopes map[string]*sync.Mutex
}

// New returns the store of the workspace at root.
func New(root string) *Store { return &Store{root: root, scopes: map[string]*sync.Mutex{}} }

// Operations are the store's operations by wire name.
func (s *Store) Operations() map[string]dispatch.Operation {
	return map[string]dispatch.Operation{
		"stage_knowledge_files":        dispatch.Op("stage_knowledge_files", s.stage),
		"delete_knowledge_files":       dispatch.Op("delete_knowledge_files", s.delete),
		"reconcile_knowledge_manifest": dispatch.Op("reconcile_knowledge_manifest", s.reconcile),
	}
}

func (s *Store) lock(scope string) func() {
	s.mu.Lock()
	m := s.scopes[scope]
	if m == nil {
		m = &sync.Mutex{}
		s.scopes[scope] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// open returns the workspace as an os.Root and makes the store.
func (s *Store) open() (*os.Root, error) {
	r, err := os.OpenRoot(s.root)
	if err != nil {
		return nil, fmt.Errorf("open the workspace: %w", err)
	}
	if err := r.MkdirAll(Dir, 0o755); err != nil {
		r.Close()
		return nil, fmt.Errorf("create %s: %w", Dir, err)
	}
	return r, nil
}

func checkScope(scope string) error {
	if !scopeRE.MatchString(scope) {
		return fmt.Errorf("scope %q is neither account nor team_<digits>", scope)
	}
	return nil
}

// checkRelPath refuses a file name a pack may not have.
func checkRelPath(p string) error {
	switch {
	case p == "" || strings.ContainsRune(p, 0) || strings.Contains(p, `\`):
		return fmt.Errorf("rel_path %q is not a file name", p)
	case path.IsAbs(p) || path.Clean(p) != p:
		return fmt.Errorf("rel_path %q must be relative and clean", p)
	case !slices.Contains(Extensions, strings.ToLower(path.Ext(p))):
		return fmt.Errorf("rel_path %q: only %s files belong in a pack", p, strings.Join(Extensions, " "))
	}
	for seg := range strings.SplitSeq(p, "/") {
		if strings.HasPrefix(seg, ".") {
			return fmt.Errorf("rel_path %q: no part of it may start with a dot", p)
		}
	}
	return nil
}

// scopeOf reads the scope, however the call spells it.
type scopeOf struct {
	Scope    string `json:"scope"`
	ScopeKey string `json:"scope_key"`
}

func (a scopeOf) get() string {
	if a.Scope != "" {
		return a.Scope
	}
	return a.ScopeKey
}

type stageFile struct {
	RelPath    string `json:"rel_path"`
	Checksum   string `json:"checksum"`
	SHA256     string `json:"sha256"`
	ContentB64 string `json:"content_b64"`
}

type stageArgs struct {
	scopeOf
	Files []stageFile `json:"files"`
}

// FileStatus is one file's outcome.
type FileStatus struct {
	RelPath string `json:"rel_path"`
	Status  string `json:"status"` // staged, deleted, error
	Error   string `json:"error,omitempty"`
}

func (s *Store) stage(_ context.Context, a stageArgs, audit *dispatch.Audit) (any, error) {
	scope := a.get()
	audit.Target = scope
	if err := checkScope(scope); err != nil {
		return nil, fmt.Errorf("invalid stage_knowledge_files args: %w", err)
	}
	if len(a.Files) > MaxFiles {
		return nil, fmt.Errorf("invalid stage_knowledge_files args: %d files, at most %d in a pack", len(a.Files), MaxFiles)
	}
	// Everything decoded and verified before anything is written.
	type file struct {
		rel  string
		data []byte
		err  error
	}
	files := make([]file, len(a.Files))
	var total int64
	for i, f := range a.Files {
		files[i] = file{rel: f.RelPath}
		files[i].data, files[i].err = decode(f)
		total += int64(len(files[i].data))
	}
	if total > MaxPackBytes {
		return nil, fmt.Errorf("invalid stage_knowledge_files args: %d bytes, at most %d in a pack", total, MaxPackBytes)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.rel
	}
	return s.perFile(scope, names, "staged", func(r *os.Root, i int) error {
		if files[i].err != nil {
			return files[i].err
		}
		audit.Bytes += int64(len(files[i].data))
		return writeAtomic(r, path.Join(Dir, scope, files[i].rel), files[i].data)
	})
}

// perFile runs do for each of the named files of scope, under the scope's
// lock and inside the store, and reports each file's outcome.
func (s *Store) perFile(scope string, names []string, done string, do func(r *os.Root, i int) error) (any, error) {
	unlock := s.lock(scope)
	defer unlock()
	r, err := s.open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := make([]FileStatus, len(names))
	for i, n := range names {
		out[i] = FileStatus{RelPath: n, Status: done}
		if err := do(r, i); err != nil {
			out[i].Status, out[i].Error = "error", err.Error()
		}
	}
	return map[string]any{"scope": scope, "files": out}, nil
}

// decode checks a file's name, decodes it and verifies its checksum.
func decode(f stageFile) ([]byte, error) {
	if err := checkRelPath(f.RelPath); err != nil {
		return nil, err
	}
	if base64.StdEncoding.DecodedLen(len(f.ContentB64)) > MaxFileBytes+3 {
		return nil, fmt.Errorf("%s is over the %d byte limit", f.RelPath, MaxFileBytes)
	}
	data, err := base64.StdEncoding.DecodeString(f.ContentB64)
	if err != nil {
		return nil, fmt.Errorf("%s: content_b64 is not base64: %w", f.RelPath, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s is over the %d byte limit", f.RelPath, MaxFileBytes)
	}
	want := strings.ToLower(strings.TrimPrefix(cmp(f.Checksum, f.SHA256), "sha256:"))
	if _, err := hex.DecodeString(want); err != nil || len(want) != 64 {
		return nil, fmt.Errorf("%s: checksum must be 64 hex digits (sha256), got %q", f.RelPath, cmp(f.Checksum, f.SHA256))
	}
	if got := sum(data); got != want {
		return nil, fmt.Errorf("%s: checksum mismatch: got %s, want %s", f.RelPath, got, want)
	}
	return data, nil
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// writeAtomic writes name in full or not at all.
func writeAtomic(r *os.Root, name string, data []byte) error {
	if err := r.MkdirAll(path.Dir(name), 0o755); err != nil {
		return fmt.Errorf("create the directory of %s: %w", name, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	tmp := path.Join(path.Dir(name), ".tmp-"+hex.EncodeToString(b[:]))
	if err := r.WriteFile(tmp, data, 0o644); err != nil {
		_ = r.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := r.Rename(tmp, name); err != nil {
		_ = r.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

type deleteArgs struct {
	scopeOf
	RelPaths []string    `json:"rel_paths"`
	Files    []stageFile `json:"files"`
}

func (s *Store) delete(_ context.Context, a deleteArgs, audit *dispatch.Audit) (any, error) {
	scope := a.get()
	audit.Target = scope
	if err := checkScope(scope); err != nil {
		return nil, fmt.Errorf("invalid delete_knowledge_files args: %w", err)
	}
	names := slices.Clone(a.RelPaths)
	for _, f := range a.Files {
		names = append(names, f.RelPath)
	}
	return s.perFile(scope, names, "deleted", func(r *os.Root, i int) error {
		if err := checkRelPath(names[i]); err != nil {
			return err
		}
		if err := r.Remove(path.Join(Dir, scope, names[i])); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err // gone already is what was asked for
		}
		return nil
	})
}

// manifestEntry is one file the platform holds.
type manifestEntry struct {
	Scope    string `json:"scope"`
	RelPath  string `json:"rel_path"`
	SHA256   string `json:"sha256"`
	Checksum string `json:"checksum"`
}

type reconcileArgs struct {
	// Manifest is a list of entries, or a map of scope to entries.
	Manifest     json.RawMessage `json:"manifest"`
	StagedScopes []string        `json:"staged_scopes"`
	ValidScopes  []string        `json:"valid_scopes"`
}

// entries reads the manifest in either form.
func (a reconcileArgs) entries() ([]manifestEntry, error) {
	if len(a.Manifest) == 0 || string(a.Manifest) == "null" {
		return nil, nil
	}
	var list []manifestEntry
	if err := json.Unmarshal(a.Manifest, &list); err == nil {
		return list, nil
	}
	var byScope map[string][]manifestEntry
	if err := json.Unmarshal(a.Manifest, &byScope); err != nil {
		return nil, errors.New("manifest is neither a list of {scope, rel_path, sha256} nor a map of scope to {rel_path, sha256}")
	}
	for scope, es := range byScope {
		for _, e := range es {
			e.Scope = scope
			list = append(list, e)
		}
	}
	return list, nil
}

// Missing is a file of the manifest the runner lacks or holds changed.
type Missing struct {
	Scope   string `json:"scope"`
	RelPath string `json:"rel_path"`
}

// reconcile removes the scopes the platform no longer knows, prunes the
// files of the staged scopes that the manifest does not list, and says
// which files of the manifest still need staging.
func (s *Store) reconcile(_ context.Context, a reconcileArgs, audit *dispatch.Audit) (any, error) {
	audit.Target = "manifest"
	entries, err := a.entries()
	if err != nil {
		return nil, fmt.Errorf("invalid reconcile_knowledge_manifest args: %w", err)
	}
	want := map[string]map[string]string{} // scope → rel_path → sha256
	for _, e := range entries {
		if err := checkScope(e.Scope); err != nil {
			return nil, fmt.Errorf("invalid reconcile_knowledge_manifest args: %w", err)
		}
		if err := checkRelPath(e.RelPath); err != nil {
			return nil, fmt.Errorf("invalid reconcile_knowledge_manifest args: %w", err)
		}
		if want[e.Scope] == nil {
			want[e.Scope] = map[string]string{}
		}
		want[e.Scope][e.RelPath] = strings.ToLower(strings.TrimPrefix(cmp(e.SHA256, e.Checksum), "sha256:"))
	}
	for _, sc := range append(slices.Clone(a.StagedScopes), a.ValidScopes...) {
		if err := checkScope(sc); err != nil {
			return nil, fmt.Errorf("invalid reconcile_knowledge_manifest args: %w", err)
		}
	}
	r, err := s.open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var removed []string
	if a.ValidScopes != nil {
		local, err := fs.ReadDir(r.FS(), Dir)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", Dir, err)
		}
		for _, d := range local {
			if d.IsDir() && !slices.Contains(a.ValidScopes, d.Name()) {
				unlock := s.lock(d.Name())
				err := r.RemoveAll(path.Join(Dir, d.Name()))
				unlock()
				if err != nil {
					return nil, fmt.Errorf("remove scope %s: %w", d.Name(), err)
				}
				removed = append(removed, d.Name())
			}
		}
	}
	pruned := []Missing{}
	for _, scope := range a.StagedScopes {
		unlock := s.lock(scope)
		err := fs.WalkDir(r.FS(), path.Join(Dir, scope), func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir
			}
			if err != nil || d.IsDir() {
				return err
			}
			rel := strings.TrimPrefix(p, path.Join(Dir, scope)+"/")
			if _, ok := want[scope][rel]; !ok {
				if err := r.Remove(p); err != nil {
					return err
				}
				pruned = append(pruned, Missing{Scope: scope, RelPath: rel})
			}
			return nil
		})
		unlock()
		if err != nil {
			return nil, fmt.Errorf("prune scope %s: %w", scope, err)
		}
	}
	missing := []Missing{}
	for _, e := range entries {
		data, err := r.ReadFile(path.Join(Dir, e.Scope, e.RelPath))
		if err != nil || sum(data) != want[e.Scope][e.RelPath] {
			missing = append(missing, Missing{Scope: e.Scope, RelPath: e.RelPath})
		}
	}
	return map[string]any{"missing": missing, "pruned": pruned, "removed_scopes": removed}, nil
}
