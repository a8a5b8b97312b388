package export

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/mlenv/mlenv/lock"
)

// devcontainer is the part of the Dev Container spec mlenv writes.
type devcontainer struct {
	Name              string            `json:"name"`
	Image             string            `json:"image"`
	WorkspaceFolder   string            `json:"workspaceFolder"`
	WorkspaceMount    string            `json:"workspaceMount"`
	ContainerEnv      map[string]string `json:"containerEnv,omitempty"`
	RemoteEnv         map[string]string `json:"remoteEnv,omitempty"`
	RunArgs           []string          `json:"runArgs,omitempty"`
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
		Image:           image(l, o.Platform),
		WorkspaceFolder: r.Workdir,
		WorkspaceMount:  fmt.Sprintf("source=${localWorkspaceFolder},target=%s,type=bind", r.Workdir),
		ContainerEnv:    r.Env,
	}
	if installs(l, o.Platform) {
		d.OnCreateCommand = venvArgv
		out := o.OutDir
		if out == "" {
			out = ".devcontainer"
		}
		d.PostCreateCommand = installArgv(path.Join(r.Workdir, out, RequirementsFile), true)
		d.RemoteEnv = map[string]string{}
		for _, kv := range lock.VenvEnv("${containerEnv:PATH}") {
			k, v, _ := strings.Cut(kv, "=")
			d.RemoteEnv[k] = v
		}
	}
	d.RunArgs = DockerRunArgs(r, false)
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

// DockerRunArgs are the docker run flags for [run] ipc, shm-size, network
// and gpus. With autoAsAll, gpus "auto" asks for all GPUs (docker has no
// "auto"); otherwise it asks for none. Device ids are quoted as docker's
// --gpus wants them ("device=0,1", quotes included).
func DockerRunArgs(r lock.Run, autoAsAll bool) []string {
	var args []string
	switch mode := r.GPUs.Mode(); {
	case mode == "all" || (mode == "auto" && autoAsAll):
		args = append(args, "--gpus", "all")
	case mode == "count":
		args = append(args, "--gpus", fmt.Sprint(r.GPUs.Count()))
	case mode == "devices":
		args = append(args, "--gpus", `"device=`+joinIDs(r.GPUs.DeviceIDs())+`"`)
	}
	if r.IPC != "" {
		args = append(args, "--ipc", r.IPC)
	}
	if r.ShmSize != "" {
		args = append(args, "--shm-size", r.ShmSize)
	}
	if r.Network != "" && r.Network != "bridge" {
		args = append(args, "--network", r.Network)
	}
	return args
}
