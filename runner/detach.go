package runner

import (
	"context"
	"fmt"
	"strings"

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
	e.tellPublished(ctx, id, spec)
	name := spec.Name
	if got, err := e.Client.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil && got.Container.Name != "" {
		name = strings.TrimPrefix(got.Container.Name, "/")
	}
	if name == "" {
		name = id
	}
	_, err := fmt.Fprintln(stdio.Out, name)
	return err
}
