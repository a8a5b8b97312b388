package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// Limits on input files (mlenv.toml, mlenv.lock, a requirements file),
// far above any real one: a larger or deeper file is refused before it is
// parsed, so that no input can exhaust memory or the parser's stack.
const (
	MaxInputSize  = 4 << 20 // bytes
	MaxInputDepth = 64      // nested arrays and inline tables
)

// CheckInput refuses data larger than MaxInputSize or nested deeper than
// MaxInputDepth, naming file and, for depth, the line.
func CheckInput(file string, data []byte) error {
	if len(data) > MaxInputSize {
		return &Error{File: file, Err: fmt.Errorf("the file is larger than mlenv reads (%d bytes)", MaxInputSize),
			Hint: "an mlenv file is a few kilobytes: restore it from version control"}
	}
	if line := tooDeep(data); line > 0 {
		return &Error{File: file, Line: line, Err: fmt.Errorf("arrays or inline tables nested more than %d levels", MaxInputDepth),
			Hint: "an mlenv file nests a few levels: restore it from version control"}
	}
	return nil
}

// tooDeep scans TOML for the bracket nesting of values, skipping strings
// and comments, and returns the line where it passes MaxInputDepth, or 0.
func tooDeep(data []byte) int {
	depth, line := 0, 1
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line++
		case '#':
			for i < len(data) && data[i] != '\n' {
				i++
			}
			i--
		case '"', '\'':
			quote := data[i : i+1]
			if bytes.HasPrefix(data[i:], bytes.Repeat(quote, 3)) {
				quote = bytes.Repeat(quote, 3)
			}
			end := skipString(data, i+len(quote), quote, c == '"')
			line += bytes.Count(data[i:end], []byte("\n"))
			i = end - 1
		case '[', '{':
			if depth++; depth > MaxInputDepth {
				return line
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return 0
}

// skipString returns the index just past the string that starts at i
// (after its opening quote), or len(data) when it does not end.
func skipString(data []byte, i int, quote []byte, escapes bool) int {
	for ; i < len(data); i++ {
		if escapes && data[i] == '\\' {
			i++
			continue
		}
		if bytes.HasPrefix(data[i:], quote) {
			return i + len(quote)
		}
		if len(quote) == 1 && data[i] == '\n' {
			return i // an unterminated one-line string: the parser says so
		}
	}
	return len(data)
}

// ReadInput reads an input file, at most MaxInputSize bytes of it: a
// larger file, or a directory where a file belongs, is bad input.
func ReadInput(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, &Error{File: path, Err: errors.New("is a directory, not a file"), Hint: "pass the file's path"}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxInputSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := CheckInput(path, data); err != nil {
		return nil, err
	}
	return data, nil
}
