package runner

import (
	"context"
	"os"

	"github.com/moby/moby/client"

	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/internal/leftover"
)

// LabelOwner marks a container with the mlenv process that made it:
// "host/pid" (leftover.Owner).
const LabelOwner = "dev.mlenv.owner"

// sweepLeftovers removes, once per Engine, what mlenv processes of this
// host that no longer run left behind: their task containers (one killed
// with SIGKILL leaves the container it was to commit), their run
// containers that never started (state created: they keep the
// environment image "in use"), their temporary archive and layer files
// and their partial downloads. What belongs to live processes, other
// users' included, and to other hosts is left alone.
func (e *Engine) sweepLeftovers(ctx context.Context) {
	e.swept.Do(func() {
		leftover.Sweep(os.TempDir(), "mlenv-save-")
		envimage.SweepLeftovers()
		res, err := e.Client.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelOwner)})
		if err != nil {
			return
		}
		for _, c := range res.Items {
			_, task := c.Labels[LabelTask]
			if (task || c.State == "created") && leftover.DeadOwner(c.Labels[LabelOwner]) {
				e.remove(c.ID)
			}
		}
	})
}
