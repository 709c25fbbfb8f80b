package redact

import (
	"encoding/binary"
	"strings"
)

// A key also leaves in pieces: cut short (`head -c 40`), or with
// whitespace between its characters (`fold -w 8`, `sed 's/./& /g'`). For
// each literal secret the redactor also replaces any run of at least
// minFragment of its characters in a row, whitespace between them
// allowed, within a line. A run is found by its first gramLen characters
// and then extended as far as it goes.

const (
	gramLen     = 8
	minFragment = 16
)

// fragments finds the pieces of one secret.
type fragments struct {
	secret string
	min    int                 // the shortest run replaced
	grams  map[uint64][]uint32 // each gramLen-byte window (big-endian) → its offsets
	// seen is a one-hash Bloom filter of the windows: most lines hold
	// none, and a shift register finds that without allocating.
	seen [1 << 10]uint64
}

func gramBit(g uint64) (word, bit uint64) {
	h := (g * 0x9E3779B97F4A7C15) >> 48
	return h >> 6, h & 63
}

// mayHold reports whether line may hold a window of the secret,
// whitespace skipped.
func (f *fragments) mayHold(line string) bool {
	var g uint64
	n := 0
	for i := 0; i < len(line); i++ {
		if isSpace(line[i]) {
			continue
		}
		g = g<<8 | uint64(line[i])
		if n++; n >= gramLen {
			if w, b := gramBit(g); f.seen[w]&(1<<b) != 0 {
				return true
			}
		}
	}
	return false
}

func newFragments(secret string) *fragments {
	if len(secret) < gramLen {
		return nil
	}
	f := &fragments{secret: secret, min: min(minFragment, len(secret)), grams: map[uint64][]uint32{}}
	for i := 0; i+gramLen <= len(secret); i++ {
		g := binary.BigEndian.Uint64([]byte(secret[i : i+gramLen]))
		f.grams[g] = append(f.grams[g], uint32(i))
		w, b := gramBit(g)
		f.seen[w] |= 1 << b
	}
	return f
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\v' || b == '\f' }

// redact replaces the secret's pieces in line; n is how many.
func (f *fragments) redact(line string) (string, int) {
	if len(line) < f.min || !f.mayHold(line) {
		return line, 0
	}
	// The line without whitespace, and where each byte came from.
	compact := make([]byte, 0, len(line))
	at := make([]int, 0, len(line))
	for i := 0; i < len(line); i++ {
		if !isSpace(line[i]) {
			compact = append(compact, line[i])
			at = append(at, i)
		}
	}
	type span struct{ from, to int }
	var spans []span
	for i := 0; i+gramLen <= len(compact); {
		best := 0
		for _, off := range f.grams[binary.BigEndian.Uint64(compact[i:i+gramLen])] {
			n := gramLen
			for int(off)+n < len(f.secret) && i+n < len(compact) && compact[i+n] == f.secret[int(off)+n] {
				n++
			}
			best = max(best, n)
		}
		if best >= f.min {
			spans = append(spans, span{at[i], at[i+best-1] + 1})
			i += best
			continue
		}
		i++
	}
	if len(spans) == 0 {
		return line, 0
	}
	var b strings.Builder
	last := 0
	for _, s := range spans {
		b.WriteString(line[last:s.from])
		b.WriteString(Placeholder(APIKey))
		last = s.to
	}
	b.WriteString(line[last:])
	return b.String(), len(spans)
}
