package redact

import (
	"bytes"
	"io"
	"regexp"
	"strings"
)

// maxLine bounds one buffered line; a longer one is processed in pieces
// (a secret straddling such a cut can be missed: say so in the docs).
const maxLine = 1 << 20

// maxPending bounds how much of a Kubernetes object is held back while
// its kind is unknown; past it, the data is redacted as if it were a
// Secret's.
const maxPending = 4 << 20

// Stream is an io.WriteCloser that redacts what passes through it. Close
// flushes the last partial line.
type Stream struct {
	r      *Redactor
	w      io.Writer
	counts Counts
	buf    []byte // partial line
	err    error

	inPEM bool
	k8s   k8sState

	// act marks the rules that may match the lines being emitted: the
	// triggers found in the current write plus those found earlier in
	// the partial line.
	act      []bool
	partial  []bool // triggers seen in the buffered partial line
	lookback int
}

// NewStream returns a redacting writer in front of w.
func (r *Redactor) NewStream(w io.Writer) *Stream {
	return &Stream{r: r, w: w, counts: Counts{}, lookback: r.maxTrigger() - 1}
}

// Counts is what was redacted so far.
func (s *Stream) Counts() Counts { return s.counts }

// Write buffers up to the last newline and emits redacted lines.
func (s *Stream) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n := len(p)
	for len(p) > 0 {
		// Work in blocks of whole lines: scan a block once for every
		// trigger (with enough of the partial line before it to catch one
		// that straddles), then redact its lines with only the rules
		// whose triggers occur in it.
		end := len(p)
		if end > blockSize {
			if i := bytes.IndexByte(p[blockSize:], '\n'); i >= 0 {
				end = blockSize + i + 1
			}
		}
		block := p[:end]
		p = p[end:]
		tail := s.buf[max(0, len(s.buf)-s.lookback):]
		s.act = s.r.active(string(tail)+string(block), s.act[:0:0])
		for i, seen := range s.partial {
			s.act[i] = s.act[i] || seen
		}
		s.lines(block)
	}
	return n, s.err
}

// blockSize is how much is scanned for triggers at once.
const blockSize = 4 << 10

// lines emits the complete lines of block and buffers the rest.
func (s *Stream) lines(block []byte) {
	for len(block) > 0 {
		i := bytes.IndexByte(block, '\n')
		if i < 0 {
			s.buf = append(s.buf, block...)
			if len(s.buf) > maxLine {
				s.emit(string(s.buf), false)
				s.buf = s.buf[:0]
			}
			// The rest of the partial line comes later: remember what it
			// already holds.
			s.partial = s.r.active(string(s.buf), nil)
			return
		}
		s.buf = append(s.buf, block[:i]...)
		s.emit(string(s.buf), true)
		s.buf = s.buf[:0]
		s.partial = nil
		block = block[i+1:]
	}
}

// Close flushes what is buffered.
func (s *Stream) Close() error {
	if len(s.buf) > 0 {
		s.act = s.r.active(string(s.buf), nil)
		s.emit(string(s.buf), false)
		s.buf = nil
	}
	s.act = nil
	s.flushPending(true)
	return s.err
}

func (s *Stream) out(text string) {
	if s.err == nil {
		_, s.err = io.WriteString(s.w, text)
	}
}

var (
	pemBegin = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----`)
	pemEnd   = regexp.MustCompile(`-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----`)
)

// emit processes one line (newline tells whether it ended with one).
func (s *Stream) emit(line string, newline bool) {
	nl := ""
	if newline {
		nl = "\n"
	}
	if s.r.pem && (s.inPEM || s.flag(1) && strings.Contains(line, "-----BEGIN")) {
		if s.inPEM {
			if loc := pemEnd.FindStringIndex(line); loc != nil {
				s.inPEM = false
				s.out(line[loc[0]:] + nl)
			}
			return // key material: dropped
		}
		if loc := pemBegin.FindStringIndex(line); loc != nil && !pemEnd.MatchString(line[loc[1]:]) {
			s.inPEM = true
			s.counts[PEMPrivateKey]++
			s.lineOut(line[:loc[1]], "\n")
			s.out(Placeholder(PEMPrivateKey) + "\n")
			return
		}
		if loc := pemBegin.FindStringIndex(line); loc != nil {
			// A whole key on one line (escaped newlines in JSON, say).
			end := pemEnd.FindStringIndex(line[loc[1]:])
			s.counts[PEMPrivateKey]++
			line = line[:loc[1]] + Placeholder(PEMPrivateKey) + line[loc[1]+end[0]:]
		}
	}
	if s.r.k8s {
		s.k8sLine(line, nl)
		return
	}
	s.lineOut(line, nl)
}

// flag reports one of the stateful detectors' trigger flags (1: PEM
// begin, 2: compact Secret JSON) for the current block.
func (s *Stream) flag(n int) bool {
	return s.act == nil || s.act[len(s.r.rules)+n]
}

func (s *Stream) lineOut(line, nl string) {
	s.out(s.r.line(line, s.counts, s.act))
	s.out(nl)
}

// --- Kubernetes Secret data -------------------------------------------

type indentKind struct {
	indent int
	kind   string
}

// k8sState tracks kubectl YAML/JSON output: the `kind` seen at each
// indentation of the current object, and a data region held back until
// the object's kind is known (kubectl prints `data` before `kind`).
type k8sState struct {
	kinds   []indentKind // kinds seen at each indent of the current object
	inData  bool         // inside a data/stringData mapping
	dataInd int          // indentation of its key
	secret  bool         // the data belongs to a Secret (when decided)
	decided bool
	pending []string // lines held back while undecided
	size    int
}

var (
	yamlKind     = regexp.MustCompile(`^(\s*(?:- )?)kind:\s*["']?([A-Za-z]+)["']?\s*$`)
	jsonKind     = regexp.MustCompile(`^(\s*)"kind":\s*"([A-Za-z]+)",?\s*$`)
	yamlData     = regexp.MustCompile(`^(\s*(?:- )?)(?:data|stringData):\s*$`)
	jsonData     = regexp.MustCompile(`^(\s*)"(?:data|stringData)":\s*\{\s*$`)
	yamlValue    = regexp.MustCompile(`^(\s*"?[^"\s:]+"?:\s*)(\S.*)$`)
	jsonValue    = regexp.MustCompile(`^(\s*"[^"]+":\s*)"((?:[^"\\]|\\.)*)"(,?)\s*$`)
	compactKind  = regexp.MustCompile(`"kind"\s*:\s*"Secret"`)
	compactData  = regexp.MustCompile(`"(?:data|stringData)"\s*:\s*\{([^{}]*)\}`)
	compactValue = regexp.MustCompile(`("[^"]+"\s*:\s*)"(?:[^"\\]|\\.)*"`)
	// flowData is a YAML flow mapping on one line: `data: {k: v, …}`.
	flowData  = regexp.MustCompile(`^(\s*(?:- )?)(?:data|stringData):\s*\{.*\}\s*$`)
	flowValue = regexp.MustCompile(`([{,]\s*"?[^"\s:{},]+"?\s*:\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^,}]*)`)
)

func indentOf(prefix string) int { return len(strings.ReplaceAll(prefix, "- ", "  ")) }

func (s *Stream) k8sLine(line, nl string) {
	st := &s.k8s
	// Compact JSON of a Secret on one line (last-applied-configuration).
	if s.flag(2) && compactKind.MatchString(line) && compactData.MatchString(line) {
		line = compactData.ReplaceAllStringFunc(line, func(m string) string {
			return compactValue.ReplaceAllStringFunc(m, func(v string) string {
				s.counts[K8sSecretData]++
				return compactValue.ReplaceAllString(v, `${1}"`+Placeholder(K8sSecretData)+`"`)
			})
		})
	}
	trimmed := strings.TrimSpace(line)
	ind := len(line) - len(strings.TrimLeft(line, " "))
	if trimmed == "---" {
		s.flushPending(true)
		st.kinds = st.kinds[:0]
		s.lineOut(line, nl)
		return
	}
	if st.inData && trimmed != "" {
		if ind > st.dataInd {
			s.dataLine(line, nl)
			return
		}
		if strings.HasPrefix(trimmed, "}") && ind == st.dataInd {
			s.dataLine(line, nl) // closes the JSON data object
			st.inData = false
			return
		}
		st.inData = false
	}
	// A line at a smaller indent ends objects deeper than it.
	if trimmed != "" {
		for len(st.kinds) > 0 && st.kinds[len(st.kinds)-1].indent > ind {
			st.kinds = st.kinds[:len(st.kinds)-1]
		}
		if st.pending != nil && !st.decided && ind < st.dataInd {
			s.flushPending(true) // the object ended without a kind: be safe
		}
	}
	// Only lines starting with these keys can matter.
	if key := strings.TrimLeft(strings.TrimPrefix(trimmed, "- "), `"`); strings.HasPrefix(key, "kind") {
		if m := yamlKind.FindStringSubmatch(line); m != nil {
			s.kind(indentOf(m[1]), m[2])
		} else if m := jsonKind.FindStringSubmatch(line); m != nil {
			s.kind(len(m[1]), m[2])
		}
	} else if strings.HasPrefix(key, "data") || strings.HasPrefix(key, "stringData") {
		if m := yamlData.FindStringSubmatch(line); m != nil {
			s.startData(indentOf(m[1]))
		} else if m := jsonData.FindStringSubmatch(line); m != nil {
			s.startData(len(m[1]))
		} else if m := flowData.FindStringSubmatch(line); m != nil {
			// The whole mapping is on this line: it is the data region.
			s.startData(indentOf(m[1]))
			s.dataLine(line, nl)
			st.inData = false
			return
		}
	}
	if st.pending != nil && !st.decided {
		s.hold(s.r.line(line, s.counts, s.act) + nl)
		return
	}
	s.lineOut(line, nl)
}

func (s *Stream) kind(indent int, kind string) {
	st := &s.k8s
	for len(st.kinds) > 0 && st.kinds[len(st.kinds)-1].indent >= indent {
		st.kinds = st.kinds[:len(st.kinds)-1]
	}
	st.kinds = append(st.kinds, indentKind{indent, kind})
	if st.pending != nil && !st.decided && indent == st.dataInd {
		st.secret, st.decided = kind == "Secret", true
		s.flushPending(false)
	}
}

func (s *Stream) startData(indent int) {
	st := &s.k8s
	s.flushPending(true)
	st.inData, st.dataInd = true, indent
	for _, k := range st.kinds {
		if k.indent == indent {
			st.secret, st.decided = k.kind == "Secret", true
			return
		}
	}
	st.decided, st.pending, st.size = false, []string{}, 0
}

// dataLine handles one line inside a data mapping.
func (s *Stream) dataLine(line, nl string) {
	st := &s.k8s
	if st.decided {
		if st.secret {
			line = s.redactValue(line, true)
		}
		s.lineOut(line, nl)
		return
	}
	// Undecided: keep both forms, choose when the kind is known.
	s.hold("\x00" + line + nl)
}

func (s *Stream) hold(entry string) {
	st := &s.k8s
	st.pending = append(st.pending, entry)
	st.size += len(entry)
	if st.size > maxPending {
		s.flushPending(true)
	}
}

// flushPending writes held-back lines; data lines are redacted when the
// object is a Secret, or when the kind never became known and redact is
// set.
func (s *Stream) flushPending(undecidedRedacts bool) {
	st := &s.k8s
	if st.pending == nil {
		return
	}
	secret := st.secret
	if !st.decided {
		secret = undecidedRedacts
	}
	for _, e := range st.pending {
		if raw, ok := strings.CutPrefix(e, "\x00"); ok {
			line, nl := strings.CutSuffix(raw, "\n")
			if secret {
				line = s.redactValue(line, true)
			}
			out := s.r.line(line, s.counts, nil) // held lines come from earlier writes
			if nl {
				out += "\n"
			}
			s.out(out)
			continue
		}
		s.out(e)
	}
	st.pending, st.size = nil, 0
	if !st.decided {
		st.decided, st.secret = true, secret
	}
}

// redactValue replaces the value of a `key: value` or `"key": "value"`
// line; a line of a multi-line value is replaced whole.
func (s *Stream) redactValue(line string, count bool) string {
	trimmed := strings.TrimSpace(line)
	if trimmed == "" || trimmed == "}" || trimmed == "}," || trimmed == "{" {
		return line
	}
	if count {
		s.counts[K8sSecretData]++
	}
	if m := jsonValue.FindStringSubmatch(line); m != nil {
		return m[1] + `"` + Placeholder(K8sSecretData) + `"` + m[3]
	}
	if flowData.MatchString(line) {
		open := strings.IndexByte(line, '{')
		return line[:open] + flowValue.ReplaceAllString(line[open:], "${1}"+Placeholder(K8sSecretData))
	}
	if m := yamlValue.FindStringSubmatch(line); m != nil {
		if v := strings.TrimSpace(m[2]); v == "|" || v == ">" || v == "|-" || v == ">-" {
			return line // a block scalar header; its lines follow
		}
		return m[1] + Placeholder(K8sSecretData)
	}
	ind := len(line) - len(strings.TrimLeft(line, " "))
	return line[:ind] + Placeholder(K8sSecretData)
}
