package protocol

// Salvage reads, from a frame that does not decode (nested too deep,
// trailing garbage, a bad payload), the envelope's type and the payload's
// field idKey (task_id, call_id), so that the request can still be
// answered. It scans without building anything, whatever the nesting;
// "" where a value cannot be read.
func Salvage(frame []byte, idKey string) (typ, id string) {
	s := scanner{b: frame}
	s.object(1, func(key string, depth int) bool {
		switch {
		case depth == 1 && key == "type":
			typ, _ = s.str()
			return true
		case depth == 1 && key == "payload":
			if s.peek() == '{' {
				s.object(2, func(key string, depth int) bool {
					if key == idKey {
						id, _ = s.str()
						return true
					}
					return false
				})
				return true
			}
		}
		return false
	})
	return typ, id
}

// SalvageID reads a top-level string field of a JSON object that does not
// decode.
func SalvageID(payload []byte, key string) string {
	var id string
	s := scanner{b: payload}
	s.object(1, func(k string, _ int) bool {
		if k == key {
			id, _ = s.str()
			return true
		}
		return false
	})
	return id
}

// scanner walks JSON bytes just enough to find object keys and string
// values, skipping everything else by bracket counting.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str reads a string value (escapes other than \" and \\ kept as
// written: ids are plain).
func (s *scanner) str() (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	s.i++
	var out []byte
	for s.i < len(s.b) {
		c := s.b[s.i]
		s.i++
		switch c {
		case '"':
			return string(out), true
		case '\\':
			if s.i < len(s.b) {
				out = append(out, s.b[s.i])
				s.i++
			}
		default:
			out = append(out, c)
		}
	}
	return "", false
}

// skip passes over one value of any depth.
func (s *scanner) skip() {
	switch s.peek() {
	case '"':
		s.str()
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				s.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.i++
			if depth == 0 {
				return
			}
		}
	default:
		for s.i < len(s.b) && s.b[s.i] != ',' && s.b[s.i] != '}' && s.b[s.i] != ']' {
			s.i++
		}
	}
}

// object walks the members of the object at the cursor; visit reads the
// value itself and returns true, or returns false to have it skipped.
func (s *scanner) object(depth int, visit func(key string, depth int) bool) {
	if s.peek() != '{' {
		return
	}
	s.i++
	for {
		switch s.peek() {
		case '}', 0:
			s.i++
			return
		case ',':
			s.i++
			continue
		}
		key, ok := s.str()
		if !ok || s.peek() != ':' {
			return
		}
		s.i++
		if !visit(key, depth) {
			s.skip()
		}
	}
}
