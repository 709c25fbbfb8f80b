// Package redact removes secrets from text on its way out of the runner.
// It works on streams, line by line with a little state (PEM blocks,
// Kubernetes Secret data), so a secret split across two writes is still
// caught; cost is linear in the input; bytes that are not part of a match
// pass through untouched, so valid UTF-8 stays valid.
package redact

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Detector names.
const (
	APIKey          = "api_key"
	PEMPrivateKey   = "pem_private_key"
	AWSAccessKeyID  = "aws_access_key_id"
	AWSSecretKey    = "aws_secret_access_key"
	GitHubToken     = "github_token"
	GitLabToken     = "gitlab_token"
	SlackToken      = "slack_token"
	JWT             = "jwt"
	Bearer          = "bearer_token"
	URLPassword     = "url_password"
	K8sSecretData   = "kubernetes_secret_data"
	placeholderForm = "[REDACTED:%s]"
)

const minSecretLen = 6

// Placeholder is what a redacted value becomes.
func Placeholder(detector string) string { return fmt.Sprintf(placeholderForm, detector) }

// Builtins lists the built-in detectors that can be disabled (the
// runner's own API key cannot).
func Builtins() []string {
	return []string{PEMPrivateKey, AWSAccessKeyID, AWSSecretKey, GitHubToken, GitLabToken, SlackToken, JWT, Bearer, URLPassword, K8sSecretData}
}

// Pattern is a user-defined detector.
type Pattern struct {
	Name  string
	Regex string
}

// Options choose detectors.
type Options struct {
	// Disabled turns built-in detectors off, by name.
	Disabled []string
	Patterns []Pattern
	// Secrets are literal values always redacted as api_key (the runner's
	// own key); values shorter than 6 bytes are ignored.
	Secrets []string
}

// lineRule replaces the value group of each match in a line.
type lineRule struct {
	name  string
	re    *regexp.Regexp
	group int // submatch to replace; 0 is the whole match
	// triggers: the regexp runs only on lines holding one of them; none
	// means always. A plain substring search is many times faster than
	// any regexp, and most lines hold no trigger at all.
	triggers []string
}

func (r lineRule) mayMatch(s string) bool {
	if len(r.triggers) == 0 {
		return true
	}
	for _, t := range r.triggers {
		if strings.Contains(s, t) {
			return true
		}
	}
	return false
}

// cases spells a lower-case trigger as written in code, config files and
// environment variables: lower, UPPER and Title case.
func cases(words ...string) []string {
	var out []string
	for _, w := range words {
		out = append(out, w, strings.ToUpper(w), strings.ToUpper(w[:1])+w[1:])
	}
	return out
}

// Redactor holds compiled detectors. It is immutable and safe for
// concurrent use; each Stream has its own state.
type Redactor struct {
	secrets []string
	pieces  []*fragments // of each secret
	rules   []lineRule
	pem     bool
	k8s     bool
}

// New compiles the detectors.
func New(o Options) (*Redactor, error) {
	off := map[string]bool{}
	known := map[string]bool{}
	for _, b := range Builtins() {
		known[b] = true
	}
	for _, d := range o.Disabled {
		if !known[d] {
			return nil, fmt.Errorf("redaction: unknown built-in detector %q (known: %s)", d, strings.Join(Builtins(), ", "))
		}
		off[d] = true
	}
	r := &Redactor{pem: !off[PEMPrivateKey], k8s: !off[K8sSecretData]}
	for _, s := range o.Secrets {
		// A value this short would shred ordinary text; real API keys are
		// far longer.
		if len(s) >= minSecretLen {
			r.secrets = append(r.secrets, s)
			if f := newFragments(s); f != nil {
				r.pieces = append(r.pieces, f)
			}
		}
	}
	for _, b := range builtinRules() {
		if !off[b.name] {
			r.rules = append(r.rules, b)
		}
	}
	seen := map[string]bool{}
	for _, p := range o.Patterns {
		if p.Name == "" || known[p.Name] || p.Name == APIKey || seen[p.Name] {
			return nil, fmt.Errorf("redaction: pattern name %q is empty, built in or used twice", p.Name)
		}
		seen[p.Name] = true
		re, err := regexp.Compile(p.Regex)
		if err != nil {
			return nil, fmt.Errorf("redaction: pattern %q: %w", p.Name, err)
		}
		if re.MatchString("") {
			return nil, fmt.Errorf("redaction: pattern %q matches the empty string", p.Name)
		}
		rule := lineRule{name: p.Name, re: re}
		if prefix, _ := re.LiteralPrefix(); prefix != "" {
			rule.triggers = []string{prefix}
		}
		r.rules = append(r.rules, rule)
	}
	return r, nil
}

// With returns a redactor that also replaces the given literal secrets
// (a task's own, such as the values of its per-call environment).
func (r *Redactor) With(secrets ...string) *Redactor {
	if r == nil {
		r = &Redactor{}
	}
	c := *r
	c.secrets = slices.Clone(r.secrets)
	c.pieces = slices.Clone(r.pieces)
	for _, s := range secrets {
		if len(s) >= minSecretLen && !slices.Contains(c.secrets, s) {
			c.secrets = append(c.secrets, s)
			if f := newFragments(s); f != nil {
				c.pieces = append(c.pieces, f)
			}
		}
	}
	return &c
}

func builtinRules() []lineRule {
	return []lineRule{
		{name: AWSAccessKeyID, re: regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b`), triggers: []string{"AKIA", "ASIA", "ABIA", "ACCA"}},
		{name: AWSSecretKey, re: regexp.MustCompile(`(?i)(?:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key)["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})\b`), group: 1, triggers: cases("secret")},
		{name: GitHubToken, re: regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b`), triggers: []string{"gh", "github_pat_"}},
		{name: GitLabToken, re: regexp.MustCompile(`\bgl(?:pat|dt|rt|ptt|cbt|oas)-[A-Za-z0-9_\-]{20,}\b`), triggers: []string{"gl"}},
		{name: SlackToken, re: regexp.MustCompile(`\bxox[abposre]-[A-Za-z0-9-]{10,}\b|https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+`), triggers: []string{"xox", "hooks.slack.com"}},
		{name: JWT, re: regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`), triggers: []string{"eyJ"}},
		{name: Bearer, re: regexp.MustCompile(`(?i)\bbearer\s+([A-Za-z0-9._~+/-]{8,}=*)`), group: 1, triggers: cases("bearer")},
		{name: URLPassword, re: regexp.MustCompile(`\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s"'<>]+:([^@\s/"'<>]+)@`), group: 1, triggers: []string{"://"}},
	}
}

// Counts is how many values each detector redacted.
type Counts map[string]int

// Add merges other into c.
func (c Counts) Add(other Counts) {
	for k, v := range other {
		c[k] += v
	}
}

// String renders counts for an audit line, sorted.
func (c Counts) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, c[k])
	}
	return strings.Join(parts, ",")
}

// String redacts a whole text.
func (r *Redactor) String(s string) (string, Counts) {
	if r == nil {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	st := r.NewStream(&b)
	_, _ = st.Write([]byte(s))
	_ = st.Close()
	return b.String(), st.Counts()
}

// active marks the rules whose triggers occur in text: a rule can only
// match a line if its trigger occurs in the line, so scanning a whole
// chunk once saves scanning each line of it.
func (r *Redactor) active(text string, into []bool) []bool {
	if len(into) != len(r.rules)+3 {
		into = make([]bool, len(r.rules)+3)
	}
	// Two more flags for the stateful detectors' cheap tests.
	into[len(r.rules)+1] = into[len(r.rules)+1] || strings.Contains(text, "-----BEGIN")
	into[len(r.rules)+2] = into[len(r.rules)+2] || strings.Contains(text, `"Secret"`)
	for i, rule := range r.rules {
		if !into[i] && rule.mayMatch(text) {
			into[i] = true
		}
	}
	last := len(r.rules) // the literal secrets
	for _, sec := range r.secrets {
		if !into[last] && strings.Contains(text, sec) {
			into[last] = true
		}
	}
	return into
}

// line redacts one line (without its newline) with the rules marked in
// active (nil: all) and the literal secrets.
func (r *Redactor) line(s string, counts Counts, active []bool) string {
	if active == nil || active[len(r.rules)] {
		for _, sec := range r.secrets {
			if n := strings.Count(s, sec); n > 0 {
				s = strings.ReplaceAll(s, sec, Placeholder(APIKey))
				counts[APIKey] += n
			}
		}
	}
	for _, f := range r.pieces {
		var n int
		if s, n = f.redact(s); n > 0 {
			counts[APIKey] += n
		}
	}
	for i, rule := range r.rules {
		if (active == nil || active[i]) && rule.mayMatch(s) {
			s = replaceGroup(rule, s, counts)
		}
	}
	return s
}

// maxTrigger is the longest trigger or secret: a chunk's scan also looks
// that far back into the buffered partial line.
func (r *Redactor) maxTrigger() int {
	n := 1
	for _, rule := range r.rules {
		for _, t := range rule.triggers {
			n = max(n, len(t))
		}
	}
	for _, s := range r.secrets {
		n = max(n, len(s))
	}
	return n
}

func replaceGroup(rule lineRule, s string, counts Counts) string {
	idx := rule.re.FindAllStringSubmatchIndex(s, -1)
	if len(idx) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		start, end := m[2*rule.group], m[2*rule.group+1]
		if start < 0 || start < last {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Placeholder(rule.name))
		counts[rule.name]++
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}
