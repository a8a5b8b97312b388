package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mlenv/mlenv/internal/task"
	"github.com/mlenv/mlenv/lock"
)

// listVenv prints the distributions installed in the venv itself (not the
// image's), as JSON name → version.
const listVenv = `import json, sysconfig
try:
    from importlib import metadata
    dists = {d.metadata["Name"]: d.version for d in metadata.distributions(path=[sysconfig.get_paths()["purelib"]])}
except ImportError:
    import pkg_resources
    dists = {d.project_name: d.version for d in pkg_resources.find_distributions(sysconfig.get_paths()["purelib"])}
print(json.dumps(dists))`

// Installed lists what the environment's venv holds, by running its python
// in the environment's image: name (PEP 503 normalized) → version.
func (e *Engine) Installed(ctx context.Context, env Env, image string) (map[string]string, error) {
	req := task.Request{Argv: []string{lock.VenvPython, "-c", listVenv}}
	id, err := e.createTask(ctx, image, env.Base.Platform, req, false)
	if err != nil {
		return nil, err
	}
	defer e.remove(id)
	res, err := e.startTask(ctx, id, req)
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("list the environment's packages: exit %d: %s", res.ExitCode, task.LastLines(string(res.Stderr), 5))
	}
	var raw map[string]string
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(res.Stdout))), &raw); err != nil {
		return nil, fmt.Errorf("list the environment's packages: %w", err)
	}
	out := map[string]string{}
	for n, v := range raw {
		out[lock.NormalizeName(n)] = v
	}
	return out, nil
}
