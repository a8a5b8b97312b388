package runner

import (
	"context"
	"os"
	"strconv"
	"strings"

	"github.com/moby/moby/client"
)

// LabelOwner marks a task container with the mlenv process that made it:
// "host/pid".
const LabelOwner = "dev.mlenv.owner"

func owner() string {
	host, _ := os.Hostname()
	return host + "/" + strconv.Itoa(os.Getpid())
}

// sweepLeftovers removes, once per Engine, the task containers whose owner
// is an mlenv process of this host that no longer runs (one killed with
// SIGKILL leaves the container it was to commit, with the request it was
// given). Containers of live processes, other users' included, and of
// other hosts are left alone.
func (e *Engine) sweepLeftovers(ctx context.Context) {
	e.swept.Do(func() {
		res, err := e.Client.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelTask)})
		if err != nil {
			return
		}
		for _, c := range res.Items {
			if deadOwner(c.Labels[LabelOwner]) {
				e.remove(c.ID)
			}
		}
	})
}

// deadOwner reports whether owner ("host/pid") names a process of this
// host that is gone.
func deadOwner(owner string) bool {
	host, pidText, ok := strings.Cut(owner, "/")
	me, _ := os.Hostname()
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || host != me || pid <= 0 {
		return false
	}
	return processGone(pid)
}
