package resolve

import (
	"context"
	"io"
)

// Executor runs short-lived containers for the resolver. The runner
// satisfies it, so resolve never imports the engine client.
type Executor interface {
	// NativePlatform is the platform the engine runs without emulation.
	NativePlatform(ctx context.Context) (string, error)
	// Exec runs one container to completion and removes it.
	Exec(ctx context.Context, req ExecRequest) (*ExecResult, error)
}

// ExecRequest is one short-lived container: the image by digest, an argv
// (never a shell string), files copied in before it starts, named volumes,
// and the host's network so any index the host reaches works.
type ExecRequest struct {
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

// ExecResult is what the container printed and how it ended.
type ExecResult struct {
	ExitCode int
	Stdout   []byte
	Stderr   []byte
}
