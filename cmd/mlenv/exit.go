package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// Exit codes: the documented contract.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitStale       = 3
	exitRunFailed   = 125
	exitInterrupted = 130
)

// exitError carries an exit code with an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// silentExit ends with a code and no message (the message was printed).
type silentExit int

func (s silentExit) Error() string { return fmt.Sprintf("exit %d", int(s)) }

// exitCode maps an error to the documented exit code.
func exitCode(ctx context.Context, err error) int {
	var ee *exitError
	var se silentExit
	var serr *schema.Error
	var serrs schema.Errors
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &se):
		return int(se)
	case errors.As(err, &ee):
		return ee.code
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &serr), errors.As(err, &serrs), errors.Is(err, lock.ErrFormat):
		return exitUsage
	}
	return exitFailure
}

func report(ctx context.Context, stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	code := exitCode(ctx, err)
	var se silentExit
	switch {
	case errors.As(err, &se):
	case code == exitInterrupted:
		fmt.Fprintln(stderr, "mlenv: interrupted")
	default:
		fmt.Fprintln(stderr, "mlenv: "+err.Error())
	}
	return code
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
