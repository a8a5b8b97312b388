package export

import (
	"encoding/json"
	"fmt"

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
		Image:           imageRef(l),
		WorkspaceFolder: r.Workdir,
		WorkspaceMount:  fmt.Sprintf("source=${localWorkspaceFolder},target=%s,type=bind", r.Workdir),
		ContainerEnv:    r.Env,
	}
	if len(packagesFor(l, o.Platform)) > 0 {
		d.OnCreateCommand = venvArgv
		d.PostCreateCommand = installArgv(r.Workdir+"/.devcontainer/"+RequirementsFile, true)
		d.RemoteEnv = map[string]string{"VIRTUAL_ENV": lock.VenvPath, "PATH": lock.VenvPath + "/bin:${containerEnv:PATH}"}
	}
	d.RunArgs = append(d.RunArgs, dockerRunArgs(r)...)
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

// dockerRunArgs are the docker run flags for [run] settings a devcontainer
// has no key for.
func dockerRunArgs(r lock.Run) []string {
	var args []string
	if r.IPC != "" {
		args = append(args, "--ipc", r.IPC)
	}
	if r.ShmSize != "" {
		args = append(args, "--shm-size", r.ShmSize)
	}
	if r.Network != "" && r.Network != "bridge" {
		args = append(args, "--network", r.Network)
	}
	switch r.GPUs.Mode() {
	case "none", "auto":
	case "all":
		args = append(args, "--gpus", "all")
	case "count":
		args = append(args, "--gpus", fmt.Sprint(r.GPUs.Count()))
	default:
		args = append(args, "--gpus", "device="+joinIDs(r.GPUs.DeviceIDs()))
	}
	return args
}
