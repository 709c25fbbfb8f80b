package permission

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"mvdan.cc/sh/v3/syntax"
)

// MaxCommandBytes bounds one command string.
const MaxCommandBytes = 64 << 10

// CheckInput refuses text no honest command contains: NUL bytes, invalid
// UTF-8, control characters other than tab and newline, and oversize
// input.
func CheckInput(s string) error {
	if len(s) > MaxCommandBytes {
		return fmt.Errorf("command is %d bytes, more than the %d byte limit", len(s), MaxCommandBytes)
	}
	if !utf8.ValidString(s) {
		return errors.New("command is not valid UTF-8")
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0)
	}); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fmt.Errorf("command holds control character %U at byte %d", r, i)
	}
	if strings.TrimSpace(s) == "" {
		return errors.New("command is empty")
	}
	return nil
}

// Parse checks the input and parses it as bash. The runner executes the
// very tree it checked.
func Parse(command string) (*syntax.File, error) {
	if err := CheckInput(command); err != nil {
		return nil, err
	}
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(command), "")
	if err != nil {
		return nil, fmt.Errorf("failed to parse command: %w", err)
	}
	return f, nil
}
