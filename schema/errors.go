package schema

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrBadInput marks every error in what the user gave mlenv (mlenv.toml, a
// flag's value, a requirements file): mlenv exits 2 for it.
var ErrBadInput = errors.New("bad input")

// Error is one problem in an input file, with the position and key it was
// found at, its cause and, where there is one, the fix.
type Error struct {
	File string
	Line int // 0 when unknown
	Key  string
	Err  error
	Hint string
}

// Unwrap is the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes every Error bad input.
func (e *Error) Is(target error) bool { return target == ErrBadInput }

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Err.Error())
	if e.Hint != "" {
		b.WriteString("\n\t" + e.Hint)
	}
	return b.String()
}

// Errors is every problem found in one file, in file order.
type Errors []*Error

// Is makes Errors bad input.
func (es Errors) Is(target error) bool { return target == ErrBadInput }

// Unwrap is every problem, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sort orders problems by line, those without one last.
func (es Errors) sort() {
	slices.SortStableFunc(es, func(a, b *Error) int { return cmp.Compare(lineOrder(a), lineOrder(b)) })
}

// BadInput marks err as bad input (exit 2) without changing its message.
func BadInput(err error) error {
	if err == nil {
		return nil
	}
	return badInput{err}
}

type badInput struct{ error }

func (b badInput) Unwrap() error        { return b.error }
func (b badInput) Is(target error) bool { return target == ErrBadInput }

// maxShown is how many problems an Errors shows; the rest are counted.
const maxShown = 20

func (es Errors) Error() string {
	lines := make([]string, 0, min(len(es), maxShown)+1)
	for _, e := range es[:min(len(es), maxShown)] {
		lines = append(lines, e.Error())
	}
	if len(es) > maxShown {
		lines = append(lines, fmt.Sprintf("(and %d more problems: fix these first)", len(es)-maxShown))
	}
	return strings.Join(lines, "\n")
}

// Errorf returns an error positioned at key (dotted, like "image.cuda") in
// the spec's file.
func (s *Spec) Errorf(key, hint, format string, args ...any) *Error {
	return &Error{File: s.Path, Line: KeyLine(s.src, key), Key: key, Err: fmt.Errorf(format, args...), Hint: hint}
}

// Suggest returns the candidate closest to word by edit distance, or ""
// when none is close: the "did you mean" of error hints.
func Suggest(word string, candidates []string) string {
	best, bestDist := "", len(word)/2+2
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
