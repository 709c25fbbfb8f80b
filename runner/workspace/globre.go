package workspace

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Glob patterns are translated to RE2 regular expressions, which match
// in linear time: a backtracking glob matcher takes exponential time on
// patterns such as `{a,aa}` repeated 26 times.
const (
	maxGlobBytes        = 1024
	maxGlobAlternatives = 1024 // product of the {…} choices
)

// globRegexp translates a glob (`**` any path, `*` and `?` within one
// element, `[…]` and `[!…]` classes, `{a,b}` alternatives, `\` escapes)
// into an anchored regular expression.
func globRegexp(pattern string) (*regexp.Regexp, error) {
	if len(pattern) > maxGlobBytes {
		return nil, fmt.Errorf("invalid glob args: pattern is %d bytes, more than %d", len(pattern), maxGlobBytes)
	}
	var b strings.Builder
	b.WriteString("^")
	depth, alts := 0, 1
	counts := []int{} // choices of each open {…}
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '*':
			if i+1 < len(rs) && rs[i+1] == '*' {
				i++
				if i+1 < len(rs) && rs[i+1] == '/' {
					i++
					b.WriteString("(?:.*/)?") // `**/` is zero or more directories
				} else {
					b.WriteString(".*")
				}
				continue
			}
			b.WriteString("[^/]*")
		case '?':
			b.WriteString("[^/]")
		case '[':
			end := i + 1
			if end < len(rs) && (rs[end] == '!' || rs[end] == '^') {
				end++
			}
			if end < len(rs) && rs[end] == ']' {
				end++
			}
			for end < len(rs) && rs[end] != ']' {
				end++
			}
			if end >= len(rs) {
				return nil, errors.New("invalid glob args: unclosed [ in pattern")
			}
			class := rs[i+1 : end]
			b.WriteString("[")
			if len(class) > 0 && (class[0] == '!' || class[0] == '^') {
				b.WriteString("^/")
				class = class[1:]
			}
			for _, c := range class {
				if c == '\\' || c == '[' || c == ']' || c == '^' {
					b.WriteRune('\\')
				}
				b.WriteRune(c)
			}
			b.WriteString("]")
			i = end
		case '{':
			depth++
			counts = append(counts, 1)
			b.WriteString("(?:")
		case ',':
			if depth == 0 {
				b.WriteString(",")
				continue
			}
			counts[len(counts)-1]++
			b.WriteString("|")
		case '}':
			if depth == 0 {
				b.WriteString(`\}`)
				continue
			}
			depth--
			alts *= counts[len(counts)-1]
			counts = counts[:len(counts)-1]
			if alts > maxGlobAlternatives {
				return nil, fmt.Errorf("invalid glob args: the pattern's {…} choices combine into more than %d alternatives", maxGlobAlternatives)
			}
			b.WriteString(")")
		case '\\':
			if i+1 < len(rs) {
				i++
				b.WriteString(regexp.QuoteMeta(string(rs[i])))
			} else {
				b.WriteString(`\\`)
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	if depth != 0 {
		return nil, errors.New("invalid glob args: unclosed { in pattern")
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("invalid glob args: %w", err)
	}
	return re, nil
}
