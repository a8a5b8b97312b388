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
// parsed, so that no input can exhaust memory or the parser's stack. The
// TOML decoder's cost grows with the square of a key's parts (a 40 KB key
// of 20,000 parts takes it 8 GB) and its memory with the parts of all
// keys (each with its table's), so parts and lines are bounded too. The
// real files mlenv writes and reads have keys of at most 3 parts
// (run.env.NAME), lines of at most a few hundred bytes (a package's file
// URL) and about 13 key parts per locked package (130,000 for 10,000
// packages); the limits are 2.7, 50 and 3 times that. Within them a 4 MiB
// file of the worst shape takes mlenv about 300 MB and a second and a
// half (measured: 8-part keys to the limit).
const (
	MaxInputSize  = 4 << 20  // bytes
	MaxInputDepth = 64       // nested arrays and inline tables
	MaxKeyParts   = 8        // parts of one dotted key or table header
	MaxLineLength = 16 << 10 // bytes in one line, strings included
	MaxTotalParts = 400_000  // parts of all keys, each with its table's
)

// CheckInput refuses data larger than MaxInputSize, nested deeper than
// MaxInputDepth, with a key of more than MaxKeyParts parts or a line
// longer than MaxLineLength, naming file and line.
func CheckInput(file string, data []byte) error {
	if len(data) > MaxInputSize {
		return &Error{File: file, Err: fmt.Errorf("the file is larger than mlenv reads (%d bytes)", MaxInputSize),
			Hint: "an mlenv file is a few kilobytes: restore it from version control"}
	}
	if line, what := scanShape(data); line > 0 {
		return &Error{File: file, Line: line, Err: errors.New(what),
			Hint: "an mlenv file has short lines, short keys and a few levels of nesting: restore it from version control"}
	}
	return nil
}

// scanShape scans TOML for the bracket nesting of values, the parts of
// each key and the length of each line, skipping strings and comments,
// and returns the first line that passes a limit and which, or 0.
func scanShape(data []byte) (int, string) {
	tooLong := fmt.Sprintf("a line longer than %d bytes", MaxLineLength)
	depth, line, lineStart, dots := 0, 1, 0, 0
	header, total := 0, 0 // the parts of the current table header; of all keys
	inHeader, lineEmpty := false, true
	for i := 0; i < len(data); i++ {
		if i-lineStart > MaxLineLength {
			return line, tooLong
		}
		c := data[i]
		startsLine := lineEmpty && c != ' ' && c != '\t' && c != '\r' && c != '\n'
		if startsLine {
			lineEmpty = false
		}
		switch c {
		case '\n':
			line, lineStart, dots, lineEmpty = line+1, i+1, 0, true
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
			if n := bytes.LastIndexByte(data[i:end], '\n'); n >= 0 {
				line += bytes.Count(data[i:end], []byte("\n"))
				lineStart = i + n + 1
			}
			if end-lineStart > MaxLineLength {
				return line, tooLong
			}
			i = end - 1
		case '.':
			// A value has at most one dot outside strings (1.5, a time's
			// fraction); a key's dots are its parts.
			if dots++; dots >= MaxKeyParts {
				return line, fmt.Sprintf("a key of more than %d dotted parts", MaxKeyParts)
			}
		case '=':
			if total += header + dots + 1; total > MaxTotalParts {
				return line, fmt.Sprintf("more than %d key parts in all", MaxTotalParts)
			}
			dots = 0
		case ',':
			dots = 0
		case '[', '{':
			if startsLine && c == '[' && depth == 0 {
				inHeader, dots = true, 0
				if i+1 < len(data) && data[i+1] == '[' {
					i++
				}
				continue
			}
			if depth, dots = depth+1, 0; depth > MaxInputDepth {
				return line, fmt.Sprintf("arrays or inline tables nested more than %d levels", MaxInputDepth)
			}
		case ']', '}':
			if inHeader && c == ']' {
				inHeader, header = false, dots+1
				if total += header; total > MaxTotalParts {
					return line, fmt.Sprintf("more than %d key parts in all", MaxTotalParts)
				}
				if i+1 < len(data) && data[i+1] == ']' {
					i++
				}
				continue
			}
			if depth > 0 {
				depth--
			}
		}
	}
	return 0, ""
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
