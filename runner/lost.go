package runner

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
)

// LostEngineError says the engine stopped answering in the middle of
// mlenv's work.
type LostEngineError struct {
	During string // "the pull", "the run", ...
	Err    error
}

func (e *LostEngineError) Error() string {
	return fmt.Sprintf("the Docker engine stopped answering during %s (%v): start it again and rerun; containers of this run are removed by the engine (they are created with auto-remove)", e.During, e.Err)
}

func (e *LostEngineError) Unwrap() error { return e.Err }

// lost wraps err when it says the connection to the engine is gone.
func lost(during string, err error) error {
	if err == nil {
		return nil
	}
	var le *LostEngineError
	if errors.As(err, &le) {
		return err
	}
	msg := err.Error()
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ENOENT) || strings.Contains(msg, "connection refused") || strings.Contains(msg, "unexpected EOF") ||
		strings.Contains(msg, "Cannot connect to the Docker daemon") || strings.Contains(msg, "connection reset") || msg == "EOF" || strings.HasSuffix(msg, ": EOF") {
		return &LostEngineError{During: during, Err: err}
	}
	return err
}
