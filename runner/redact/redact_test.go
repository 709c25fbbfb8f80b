package redact

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func mustNew(t testing.TB, o Options) *Redactor {
	t.Helper()
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDetectors(t *testing.T) {
	r := mustNew(t, Options{Secrets: []string{"fk_runner_key_123"}})
	cases := []struct {
		in, want string
	}{
		// true positives
		{"key=AKIAIOSFODNN7EXAMPLE ok", "key=[REDACTED:aws_access_key_id] ok"},
		{"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = [REDACTED:aws_secret_access_key]"},
		{`AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"`, `AWS_SECRET_ACCESS_KEY="[REDACTED:aws_secret_access_key]"`},
		{"token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token [REDACTED:github_token]"},
		{"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "[REDACTED:github_token]"},
		{"glpat-abcdefghij0123456789", "[REDACTED:gitlab_token]"},
		{"SLACK=xoxb-1234567890-abcdefghij", "SLACK=[REDACTED:slack_token]"},
		{"hook https://hooks.slack.com/services/T000/B000/XXXX", "hook [REDACTED:slack_token]"},
		{"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U done", "jwt [REDACTED:jwt] done"},
		{"Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer [REDACTED:bearer_token]"},
		{"curl -H 'authorization: bearer 0123456789abcdef'", "curl -H 'authorization: bearer [REDACTED:bearer_token]'"},
		{"postgres://admin:s3cr3t!@db:5432/x", "postgres://admin:[REDACTED:url_password]@db:5432/x"},
		{"the key fk_runner_key_123 leaked twice: fk_runner_key_123", "the key [REDACTED:api_key] leaked twice: [REDACTED:api_key]"},
		// false positives that must stay
		{"2024-01-01 INFO uploaded blob aGVsbG8gd29ybGQgdGhpcyBpcyBub3QgYSBzZWNyZXQ= in 3ms", ""},
		{"https://example.com/path?user=a", ""},
		{"bearer of bad news", ""},
		{"AKIA is a prefix", ""},
		{"eyJ alone", ""},
		{"http://user@host/ (no password)", ""},
		{"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", ""},
	}
	for _, c := range cases {
		want := c.want
		if want == "" {
			want = c.in
		}
		if got, _ := r.String(c.in); got != want {
			t.Errorf("\n in  %q\n got %q\nwant %q", c.in, got, want)
		}
	}
}

func TestPEM(t *testing.T) {
	r := mustNew(t, Options{})
	in := "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1\nabcdef==\n-----END RSA PRIVATE KEY-----\nafter\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	got, counts := r.String(in)
	want := "before\n-----BEGIN RSA PRIVATE KEY-----\n[REDACTED:pem_private_key]\n-----END RSA PRIVATE KEY-----\nafter\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	if got != want || counts[PEMPrivateKey] != 1 {
		t.Fatalf("got %q %v", got, counts)
	}
	got, _ = r.String(`{"key":"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"}`)
	if strings.Contains(got, "MIIE") {
		t.Fatalf("inline key: %q", got)
	}
}

const secretYAML = `apiVersion: v1
data:
  password: c3VwZXJzZWNyZXQ=
  username: YWRtaW4=
kind: Secret
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"v1","data":{"password":"c3VwZXJzZWNyZXQ="},"kind":"Secret","metadata":{"name":"db"}}
  name: db
type: Opaque
`

const configMapYAML = `apiVersion: v1
data:
  app.properties: |
    color=blue
  mode: fast
kind: ConfigMap
metadata:
  name: cfg
`

const secretJSON = `{
    "apiVersion": "v1",
    "data": {
        "password": "c3VwZXJzZWNyZXQ=",
        "token": "dG9rZW4="
    },
    "kind": "Secret",
    "metadata": {
        "name": "db"
    }
}
`

const listYAML = `apiVersion: v1
items:
- apiVersion: v1
  data:
    mode: fast
  kind: ConfigMap
  metadata:
    name: cfg
- apiVersion: v1
  data:
    password: c3VwZXJzZWNyZXQ=
  kind: Secret
  metadata:
    name: db
kind: List
`

func TestKubernetesSecrets(t *testing.T) {
	r := mustNew(t, Options{})
	got, counts := r.String(secretYAML)
	if strings.Contains(got, "c3VwZXJzZWNyZXQ=") || strings.Contains(got, "YWRtaW4=") || counts[K8sSecretData] != 3 {
		t.Fatalf("secret yaml:\n%s\n%v", got, counts)
	}
	if !strings.Contains(got, "  password: [REDACTED:kubernetes_secret_data]") || !strings.Contains(got, "name: db") {
		t.Fatalf("structure lost:\n%s", got)
	}
	if got, _ := r.String(configMapYAML); got != configMapYAML {
		t.Fatalf("a ConfigMap was redacted:\n%s", got)
	}
	got, _ = r.String(secretJSON)
	if strings.Contains(got, "c3VwZXJzZWNyZXQ=") || strings.Contains(got, "dG9rZW4=") || !strings.Contains(got, `"password": "[REDACTED:kubernetes_secret_data]",`) {
		t.Fatalf("secret json:\n%s", got)
	}
	got, _ = r.String(listYAML)
	if strings.Contains(got, "c3VwZXJzZWNyZXQ=") || !strings.Contains(got, "mode: fast") {
		t.Fatalf("list:\n%s", got)
	}
	// kind before data (a manifest on disk)
	got, _ = r.String("kind: Secret\nstringData:\n  token: hunter2\n---\nkind: ConfigMap\ndata:\n  token: visible\n")
	if strings.Contains(got, "hunter2") || !strings.Contains(got, "visible") {
		t.Fatalf("kind first:\n%s", got)
	}
}

// Redacting a stream in arbitrary pieces gives exactly what redacting the
// whole text gives.
func TestStreamChunkingIsInvisible(t *testing.T) {
	r := mustNew(t, Options{Secrets: []string{"fk_runner_key_123"}, Patterns: []Pattern{{Name: "ticket", Regex: `TKT-[0-9]{6}`}}})
	text := strings.Repeat(secretYAML+"log line with fk_runner_key_123 and AKIAIOSFODNN7EXAMPLE and TKT-123456 ünïcödé\n"+secretJSON+configMapYAML, 20)
	whole, wholeCounts := r.String(text)
	rng := rand.New(rand.NewPCG(7, 9))
	for range 50 {
		var b strings.Builder
		st := r.NewStream(&b)
		rest := text
		for len(rest) > 0 {
			n := min(len(rest), 1+rng.IntN(40))
			_, _ = st.Write([]byte(rest[:n]))
			rest = rest[n:]
		}
		_ = st.Close()
		if b.String() != whole {
			t.Fatal("chunked output differs from whole output")
		}
		if st.Counts().String() != wholeCounts.String() {
			t.Fatalf("counts %v vs %v", st.Counts(), wholeCounts)
		}
	}
	if strings.Contains(whole, "fk_runner_key_123") || strings.Contains(whole, "TKT-123456") || !utf8.ValidString(whole) || !strings.Contains(whole, "ünïcödé") {
		t.Fatal("redaction failed or broke UTF-8")
	}
}

func TestOptions(t *testing.T) {
	r := mustNew(t, Options{Disabled: []string{JWT}})
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	if got, _ := r.String(jwt); got != jwt {
		t.Fatal("disabled detector still ran")
	}
	for _, o := range []Options{
		{Disabled: []string{"nope"}},
		{Disabled: []string{APIKey}},
		{Patterns: []Pattern{{Name: "x", Regex: "("}}},
		{Patterns: []Pattern{{Name: "x", Regex: "a*"}}},
		{Patterns: []Pattern{{Name: JWT, Regex: "a"}}},
		{Patterns: []Pattern{{Name: "x", Regex: "a"}, {Name: "x", Regex: "b"}}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	var nilR *Redactor
	if s, _ := nilR.String("x"); s != "x" {
		t.Fatal("nil redactor must pass text through")
	}
}

func TestInvalidUTF8PassesThrough(t *testing.T) {
	r := mustNew(t, Options{})
	in := "bad \xff\xfe bytes AKIAIOSFODNN7EXAMPLE \xc3"
	got, _ := r.String(in)
	if got != "bad \xff\xfe bytes [REDACTED:aws_access_key_id] \xc3" {
		t.Fatalf("%q", got)
	}
}

// Secret spellings kubectl and manifests use besides the block form.
func TestSecretDataSpellings(t *testing.T) {
	r, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	const value = "c2VjcmV0cGFzcw=="
	for _, in := range []string{
		`{"apiVersion": "v1", "data": {"password": "` + value + `"}, "kind": "Secret", "metadata": {"name": "x"}}`,
		`{"apiVersion":"v1","kind": "Secret","stringData": {"password": "` + value + `"}}`,
		"apiVersion: v1\nkind: Secret\ndata: {password: " + value + ", user: YWRtaW4=}\n",
		"apiVersion: v1\ndata: {password: '" + value + "'}\nkind: Secret\n",
		"apiVersion: v1\nkind: Secret\nstringData:\n  password: " + value + "\n",
		"apiVersion: v1\nstringData:\n  password: " + value + "\nkind: Secret\n",
	} {
		if out, counts := r.String(in); strings.Contains(out, value) || counts[K8sSecretData] == 0 {
			t.Errorf("not redacted:\n%s\n=> %s", in, out)
		}
	}
	if out, _ := r.String("kind: ConfigMap\ndata: {key: " + value + "}\n"); !strings.Contains(out, value) {
		t.Errorf("a ConfigMap was redacted: %s", out)
	}
}

// TestKeyInPieces: the runner's key cut short or spread with whitespace
// is still caught; a short piece of it, or text that merely looks like
// it, is not touched.
func TestKeyInPieces(t *testing.T) {
	const key = "fk_live_0123456789abcdefghijXYZ"
	r := mustNew(t, Options{Secrets: []string{key}})
	for in, leaked := range map[string]string{
		"api_key: " + key[:20]:                        key[:20],
		"tail: " + key[14:] + " end":                  key[14:],
		"fk_l ive_ 0123 4567 89ab cdef ghij XYZ":      "0123 4567",
		"f k _ l i v e _ 0 1 2 3 4 5 6 7 8 9 a b c d": "7 8 9",
		"x\tfk_live_01\t23456789ab\tcdef":             "23456789ab",
	} {
		out, counts := r.String(in)
		if strings.Contains(out, leaked) || counts[APIKey] == 0 {
			t.Errorf("%q -> %q (counts %v)", in, out, counts)
		}
	}
	for _, in := range []string{"short " + key[:15], "fk_live_ is a prefix people write", "0123456789abcdeX is hex"} {
		if out, _ := r.String(in); out != in {
			t.Errorf("benign %q -> %q", in, out)
		}
	}
}
