// Package task is the contract for mlenv's short-lived containers (pip
// resolution at lock time): a request by image digest with an argv, files
// and volumes, and its result. The runner carries tasks out; the resolver
// only asks, so it never imports the engine client.
package task

import (
	"context"
	"errors"
	"io"
	"strings"
)

// Executor runs short-lived containers. runner.Engine satisfies it.
type Executor interface {
	// NativePlatform is the platform the engine runs without emulation.
	NativePlatform(ctx context.Context) (string, error)
	// Exec runs one container to completion and removes it.
	Exec(ctx context.Context, req Request) (*Result, error)
}

// Request is one short-lived container: the image by digest, an argv
// (never a shell string), files copied in before it starts, named volumes,
// and the host's network so any index the host reaches works.
type Request struct {
	Repository string // index.docker.io/pytorch/pytorch
	Digest     string // what to pull: the index digest of a multi-platform image
	Platform   string // linux/amd64
	Config     string // the config digest the pulled image must have
	Argv       []string
	Env        []string
	Files      map[string][]byte // absolute container path → content
	Volumes    map[string]string // volume name → container path
	Binds      map[string]string // host path → container path, read-only
	// Progress receives the container's stderr as it runs (nil: none).
	Progress io.Writer
}

// Result is what the container printed and how it ended.
type Result struct {
	ExitCode int
	Stdout   []byte
	Stderr   []byte
}

// ErrNoPython says an image has neither python3 nor python on its PATH.
var ErrNoPython = errors.New("the image has no python3 or python on its PATH")

// WithPython calls run with python3, then python, until the image has the
// one tried: run reports a missing executable with an error that has a
// NotFound() bool method returning true. Neither: ErrNoPython.
func WithPython(run func(python string) error) error {
	for _, py := range []string{"python3", "python"} {
		err := run(py)
		var nf interface{ NotFound() bool }
		if !errors.As(err, &nf) || !nf.NotFound() {
			return err
		}
	}
	return ErrNoPython
}

// LastLines is the last n lines of a task's output.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Indent indents every line of s by a tab, for output quoted in an error.
func Indent(s string) string { return "\t" + strings.ReplaceAll(s, "\n", "\n\t") }
