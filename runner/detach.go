package runner

import (
	"cmp"
	"context"
	"fmt"

	"github.com/moby/moby/client"
)

// detach starts the created container without attaching to it, as docker
// run -d --rm: the engine removes it when it ends; its name goes to
// stdout for `docker logs NAME` and `docker stop NAME`.
func (e *Engine) detach(ctx context.Context, id string, spec RunSpec, stdio Stdio) error {
	if _, err := e.Client.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		e.remove(id)
		return &CommandError{Argv: spec.Argv, Err: err}
	}
	name := cmp.Or(e.started(ctx, id, spec), spec.Name, id)
	_, err := fmt.Fprintln(stdio.Out, name)
	return err
}
