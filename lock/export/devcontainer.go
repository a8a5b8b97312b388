package export

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

var devcontainerFormat = Format{
	Name: "devcontainer",
	Doc:  "devcontainer.json with the pinned image and GPU host requirements",
	Render: func(l *lock.Lock, o Options) (*Files, error) {
		// The container installs from the requirements file beside it, in
		// the project it mounts: the file must be inside that project.
		if o.OutDir == ".." || strings.HasPrefix(o.OutDir, "../") {
			return nil, fmt.Errorf("the output directory %s is outside the project: a devcontainer is written inside the project it opens (e.g. -o .devcontainer)", o.OutDir)
		}
		return withRequirements(one("devcontainer.json", Devcontainer(l, o)), l, o), nil
	},
}

// devcontainer is the part of the Dev Container spec mlenv writes.
type devcontainer struct {
	Name              string            `json:"name"`
	Image             string            `json:"image"`
	WorkspaceFolder   string            `json:"workspaceFolder"`
	WorkspaceMount    string            `json:"workspaceMount"`
	ContainerEnv      map[string]string `json:"containerEnv,omitempty"`
	RemoteEnv         map[string]string `json:"remoteEnv,omitempty"`
	RunArgs           []string          `json:"runArgs,omitempty"`
	ForwardPorts      []int             `json:"forwardPorts,omitempty"`
	Mounts            []string          `json:"mounts,omitempty"`
	HostRequirements  map[string]any    `json:"hostRequirements,omitempty"`
	OnCreateCommand   []string          `json:"onCreateCommand,omitempty"`
	PostCreateCommand []string          `json:"postCreateCommand,omitempty"`
}

// Devcontainer is a devcontainer.json (for .devcontainer/, beside the
// requirements file) with the pinned image, the project mounted at
// [run] workdir, the locked install on create, and GPU host requirements.
func Devcontainer(l *lock.Lock, o Options) string {
	r := l.Run
	d := devcontainer{
		Name:            o.Name,
		Image:           image(l, o),
		WorkspaceFolder: r.Workdir,
		WorkspaceMount:  fmt.Sprintf("source=${localWorkspaceFolder},target=%s,type=bind", r.Workdir),
		ContainerEnv:    r.Env,
	}
	if installs(l, o) {
		out := o.OutDir
		if out == "" {
			out = ".devcontainer"
		}
		steps := installSteps(path.Join(r.Workdir, out, RequirementsFile), true)
		d.OnCreateCommand, d.PostCreateCommand = steps[0], steps[1]
		d.RemoteEnv = map[string]string{}
		for _, kv := range lock.VenvEnv("${containerEnv:PATH}") {
			k, v, _ := strings.Cut(kv, "=")
			d.RemoteEnv[k] = v
		}
	}
	d.RunArgs = lock.DockerRunArgs(r, false)
	d.ForwardPorts = forwardPorts(r.Ports)
	switch r.GPUs.Mode() {
	case "none":
	case "auto":
		d.HostRequirements = map[string]any{"gpu": "optional"}
	default:
		d.HostRequirements = map[string]any{"gpu": true}
	}
	for _, m := range r.Mounts {
		d.Mounts = append(d.Mounts, mountSpec(m))
	}
	b, _ := json.MarshalIndent(d, "", "  ")
	return string(b) + "\n"
}

// forwardPorts are [run] ports' TCP container ports: the Dev Container
// tool forwards them to the user's machine itself.
func forwardPorts(specs []string) []int {
	ports, _ := schema.ParsePorts(specs)
	var out []int
	for _, p := range ports {
		if n, err := strconv.Atoi(p.ContainerPort); err == nil && p.Proto == "tcp" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
