package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/runner"
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

// exitCodes is the contract as help and README write it, in one place
// (a test holds README's table to it).
var exitCodes = []struct{ code, meaning string }{
	{"0", "ok"},
	{"1", "failure (registry, engine, resolution)"},
	{"2", "usage or bad input (mlenv.toml, a corrupted or unknown-format lock)"},
	{"3", "stale lock (`lock --check`, `run` without `--frozen`)"},
	{"125", "`mlenv run` failed before the container started"},
	{"126", "`mlenv run`: the command cannot be run (not executable), as `docker run` says"},
	{"127", "`mlenv run`: the command is not found in the image, as `docker run` says"},
	{"130", "interrupted"},
	{"other", "`mlenv run`: the container's exit code"},
}

// exitHelp is the contract for --help.
func exitHelp() string {
	var b strings.Builder
	b.WriteString("Exit codes:\n")
	for _, c := range exitCodes {
		fmt.Fprintf(&b, "  %-6s %s\n", c.code, strings.ReplaceAll(c.meaning, "`", ""))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// exitCode maps an error to the documented exit code. It is the one place
// that does: the library says what went wrong with typed and sentinel
// errors, never with codes.
func exitCode(ctx context.Context, err error) int {
	var exited *runner.ExitError
	var usage usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &exited):
		return exited.Code
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, runner.ErrBeforeStart):
		return exitRunFailed
	case errors.Is(err, lock.ErrStale):
		return exitStale
	case errors.As(err, &usage), errors.Is(err, schema.ErrBadInput), errors.Is(err, lock.ErrFormat):
		return exitUsage
	}
	return exitFailure
}

// usageError is a command-line mistake: an unknown command, a bad flag or
// the wrong number of arguments.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// reported is an error whose outcome the command has printed already: it
// sets the exit code and prints nothing more.
type reported struct{ error }

func (r reported) Unwrap() error { return r.error }

func report(ctx context.Context, stderr io.Writer, err error) int {
	code := exitCode(ctx, err)
	var printed reported
	var exited *runner.ExitError
	switch {
	case err == nil, errors.As(err, &printed), errors.As(err, &exited) && exited.Err == nil:
	case code == exitInterrupted:
		fmt.Fprintln(stderr, "mlenv: interrupted")
	default:
		fmt.Fprintln(stderr, "mlenv: "+err.Error())
	}
	return code
}
