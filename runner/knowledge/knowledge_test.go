package knowledge

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/dispatch"
)

func file(rel, content string) map[string]any {
	s := sha256.Sum256([]byte(content))
	return map[string]any{"rel_path": rel, "checksum": hex.EncodeToString(s[:]), "content_b64": base64.StdEncoding.EncodeToString([]byte(content))}
}

func call(t *testing.T, s *Store, op string, args any) (map[string]any, error) {
	t.Helper()
	raw, _ := json.Marshal(args)
	res, err := s.Operations()[op](t.Context(), raw, &dispatch.Audit{})
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(res)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out, nil
}

func TestStageDeleteReconcile(t *testing.T) {
	root := t.TempDir()
	s := New(root)
	bad := file("b.md", "x")
	bad["checksum"] = strings.Repeat("0", 64)
	res, err := call(t, s, "stage_knowledge_files", map[string]any{"scope": "team_12", "files": []any{
		file("DUTY.md", "# duty"), file("runbooks/db.md", "restart db"), bad, file(".hidden/x.md", "x"), file("run.exe", "x"), file("../x.md", "x"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[string]string{}
	for _, f := range res["files"].([]any) {
		m := f.(map[string]any)
		statuses[m["rel_path"].(string)] = m["status"].(string)
	}
	want := map[string]string{"DUTY.md": "staged", "runbooks/db.md": "staged", "b.md": "error", ".hidden/x.md": "error", "run.exe": "error", "../x.md": "error"}
	for k, v := range want {
		if statuses[k] != v {
			t.Errorf("%s: %s, want %s", k, statuses[k], v)
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, Dir, "team_12", "runbooks/db.md")); err != nil || string(b) != "restart db" {
		t.Fatalf("staged file: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(root, "x.md")); err == nil {
		t.Fatal("a file landed outside the store")
	}
	// The platform's limits, and scopes it uses.
	many := []any{}
	for i := range MaxFiles + 1 {
		many = append(many, file("f"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+".md", "x"))
	}
	for name, args := range map[string]map[string]any{
		"too many files": {"scope": "account", "files": many},
		"bad scope":      {"scope": "../etc", "files": []any{file("a.md", "x")}},
		"too big a file": {"scope": "account", "files": []any{file("a.md", strings.Repeat("x", MaxFileBytes+1))}},
		"too big a pack": {"scope": "account", "files": []any{file("a.md", strings.Repeat("x", MaxFileBytes)), file("b.md", strings.Repeat("y", MaxFileBytes)),
			file("c.md", strings.Repeat("z", MaxFileBytes)), file("d.md", strings.Repeat("w", MaxFileBytes)), file("e.md", strings.Repeat("v", MaxFileBytes)), file("f.md", "u")}},
	} {
		res, err := call(t, s, "stage_knowledge_files", args)
		if err == nil && name != "too big a file" {
			t.Errorf("%s accepted", name)
		}
		if name == "too big a file" && (err != nil || !strings.Contains(string(must(json.Marshal(res))), "error")) {
			t.Errorf("%s: %v %v", name, res, err)
		}
	}
	// Delete one; a missing one is already gone.
	if _, err := call(t, s, "delete_knowledge_files", map[string]any{"scope": "team_12", "rel_paths": []string{"DUTY.md", "nope.md"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, Dir, "team_12", "DUTY.md")); err == nil {
		t.Fatal("not deleted")
	}
	// Reconcile: team_99 is gone from the platform, team_12's orphan is
	// pruned, and a changed and a missing file need staging.
	if _, err := call(t, s, "stage_knowledge_files", map[string]any{"scope": "team_99", "files": []any{file("a.md", "x")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := call(t, s, "stage_knowledge_files", map[string]any{"scope": "account", "files": []any{file("keep.md", "old")}}); err != nil {
		t.Fatal(err)
	}
	sumOf := func(c string) string { x := sha256.Sum256([]byte(c)); return hex.EncodeToString(x[:]) }
	res, err = call(t, s, "reconcile_knowledge_manifest", map[string]any{
		"manifest": []any{
			map[string]any{"scope": "account", "rel_path": "keep.md", "sha256": sumOf("new")},
			map[string]any{"scope": "account", "rel_path": "DUTY.md", "sha256": sumOf("d")},
		},
		"staged_scopes": []string{"team_12"},
		"valid_scopes":  []string{"account", "team_12"},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	if !strings.Contains(string(b), `"removed_scopes":["team_99"]`) || !strings.Contains(string(b), `{"rel_path":"runbooks/db.md","scope":"team_12"}`) ||
		!strings.Contains(string(b), `"missing":[{"rel_path":"keep.md","scope":"account"},{"rel_path":"DUTY.md","scope":"account"}]`) {
		t.Fatalf("reconcile: %s", b)
	}
	if _, err := os.Stat(filepath.Join(root, Dir, "team_99")); err == nil {
		t.Fatal("a scope the platform no longer knows survived")
	}
	if _, err := os.Stat(filepath.Join(root, Dir, "account", "keep.md")); err != nil {
		t.Fatal("a scope that was not staged was pruned")
	}
	// The manifest as a map of scope to files reads the same.
	res, err = call(t, s, "reconcile_knowledge_manifest", map[string]any{"manifest": map[string]any{"account": []any{map[string]any{"rel_path": "keep.md", "sha256": sumOf("old")}}}})
	if err != nil || !strings.Contains(string(must(json.Marshal(res))), `"missing":[]`) {
		t.Fatalf("map manifest: %v %v", res, err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
