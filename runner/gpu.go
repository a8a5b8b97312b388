package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"go.yaml.in/yaml/v3"

	"github.com/mlenv/mlenv/schema"
)

// nvidiaHook is the program whose presence on dockerd's PATH makes it
// serve --gpus (moby's daemon/nvidia_linux.go), with or without a
// registered nvidia runtime.
const nvidiaHook = "nvidia-container-runtime-hook"

// cdiKind is the CDI kind of NVIDIA's GPUs (nvidia-ctk cdi generate).
const cdiKind = "nvidia.com/gpu"

// GPUSupport is how an engine serves NVIDIA GPUs, found the way the
// engine itself finds them.
type GPUSupport struct {
	Runtime bool     // a registered nvidia runtime
	Hook    string   // nvidia-container-runtime-hook on the engine's PATH
	CDI     []string // CDI device names of kind nvidia.com/gpu, as "nvidia.com/gpu=0"
	Podman  bool     // the engine is podman, which serves GPUs by CDI only
	// Notes say where mlenv could not look as the engine does (its PATH
	// unreadable, the client's PATH differing), for the user.
	Notes []string
}

// Serves says whether GPUs can be asked for at all.
func (s GPUSupport) Serves() bool { return s.Driver() != "" }

// Driver is how a run asks: "nvidia" (docker's --gpus: a runtime or the
// hook), "cdi" (CDI device names), "" when the engine serves none.
func (s GPUSupport) Driver() string {
	switch {
	case !s.Podman && (s.Runtime || s.Hook != ""):
		return "nvidia"
	case len(s.CDI) > 0:
		return "cdi"
	}
	return ""
}

// Why says, for the user, what the engine serves GPUs with or why none.
func (s GPUSupport) Why() string {
	switch s.Driver() {
	case "nvidia":
		if s.Runtime {
			return "the engine's nvidia runtime"
		}
		return "the engine's " + s.Hook
	case "cdi":
		return "the CDI devices " + strings.Join(s.CDI, ", ")
	}
	if s.Podman {
		return "this engine (podman) serves no NVIDIA GPUs: no CDI spec for " + cdiKind + " where it reads them (/etc/cdi, /var/run/cdi)"
	}
	return "this engine serves no NVIDIA GPUs: no NVIDIA runtime, no " + nvidiaHook + " on its PATH, no CDI spec for " + cdiKind
}

// Fix is how to make the engine serve GPUs.
func (s GPUSupport) Fix() string {
	if s.Podman {
		return "install the NVIDIA Container Toolkit and write the CDI spec (`nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`)"
	}
	return "install the NVIDIA Container Toolkit and configure docker for it (`nvidia-ctk runtime configure --runtime=docker`, then restart docker), or write a CDI spec (`nvidia-ctk cdi generate`) for an engine with CDI enabled"
}

// ErrNoGPURuntime says GPUs were asked for and the engine cannot give any.
var ErrNoGPURuntime = errors.New("GPUs were requested, but this engine serves no NVIDIA GPUs")

// NoGPUsError is GPUs asked of an engine that serves none, with why and
// the fix.
type NoGPUsError struct{ Support GPUSupport }

func (e *NoGPUsError) Error() string {
	msg := fmt.Sprintf("GPUs were requested, but %s: %s, or run with --gpus none (gpus = \"none\" in mlenv.toml)", e.Support.Why(), e.Support.Fix())
	for _, n := range e.Support.Notes {
		msg += "; " + n
	}
	return msg
}

func (e *NoGPUsError) Is(target error) bool { return target == ErrNoGPURuntime }

// GPUSupport finds how the engine serves GPUs: a registered nvidia
// runtime, the hook on the engine's own PATH (read from the engine's
// process where it runs on this machine; else mlenv's PATH, which is
// said), and CDI specs for nvidia.com/gpu where the engine reads them
// (podman: /etc/cdi, /var/run/cdi; docker: the CDI spec dirs it reports).
func (e *Engine) GPUSupport(ctx context.Context) (GPUSupport, error) {
	info, err := e.sysInfo(ctx)
	if err != nil {
		return GPUSupport{}, err
	}
	var s GPUSupport
	_, s.Runtime = info.Runtimes["nvidia"]
	s.Podman = e.Product(ctx).Podman()
	dirs := info.CDISpecDirs
	host, local := e.Client.(EngineHost)
	switch {
	case s.Podman && local:
		dirs = host.CDISpecDirs()
	case s.Podman:
		s.Notes = append(s.Notes, "mlenv cannot read the CDI specs of a podman on another machine")
	default:
		s.Hook, s.Notes = e.findHook()
	}
	s.CDI = cdiDevices(dirs)
	return s, nil
}

// findHook looks for the hook on the engine's PATH; where that cannot be
// read, on mlenv's, and says so.
func (e *Engine) findHook() (string, []string) {
	clientHook := lookPath(nvidiaHook, os.Getenv("PATH"))
	de, ok := e.Client.(EngineHost)
	if !ok {
		return clientHook, []string{"mlenv cannot read this engine's PATH (it is not on this machine): it looked for " + nvidiaHook + " on its own"}
	}
	env, err := de.DaemonEnv()
	if err != nil {
		return clientHook, []string{fmt.Sprintf("mlenv could not read the engine's PATH (%v): it looked for %s on its own", err, nvidiaHook)}
	}
	daemonPath := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			daemonPath = v
		}
	}
	hook := lookPath(nvidiaHook, daemonPath)
	var notes []string
	if hook == "" && clientHook != "" {
		notes = append(notes, fmt.Sprintf("%s is on mlenv's PATH (%s) but not on the engine's (PATH=%s): the engine decides; put it in one of the engine's directories, or restart the engine with it on PATH", nvidiaHook, clientHook, daemonPath))
	}
	return hook, notes
}

// lookPath finds an executable file on a PATH value.
func lookPath(name, path string) string {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// cdiDevices are the device names of kind nvidia.com/gpu in the CDI specs
// (YAML or JSON) of dirs, as "nvidia.com/gpu=NAME", sorted with "all"
// last.
func cdiDevices(dirs []string) []string {
	var out []string
	for _, dir := range dirs {
		entries, _ := os.ReadDir(dir)
		for _, ent := range entries {
			if ext := filepath.Ext(ent.Name()); ext != ".yaml" && ext != ".json" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
			if err != nil || len(b) > 4<<20 {
				continue
			}
			var spec struct {
				Kind    string `yaml:"kind"`
				Devices []struct {
					Name string `yaml:"name"`
				} `yaml:"devices"`
			}
			if yaml.Unmarshal(b, &spec) != nil || spec.Kind != cdiKind {
				continue
			}
			for _, d := range spec.Devices {
				if name := cdiKind + "=" + d.Name; d.Name != "" && !slices.Contains(out, name) {
					out = append(out, name)
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b string) int {
		switch {
		case strings.HasSuffix(a, "=all") == strings.HasSuffix(b, "=all"):
			return strings.Compare(a, b)
		case strings.HasSuffix(a, "=all"):
			return 1
		}
		return -1
	})
	return out
}

// GPURequests turns [run] gpus into the GPUs a run asks the engine for
// ("none" for none) and how (the support's Driver). With "auto", GPUs are
// asked for only where the engine serves them; "auto", "all" and counts
// ask among the GPUs given (see Given), not every GPU.
func (e *Engine) GPURequests(ctx context.Context, gpus schema.GPUs, given Given) (schema.GPUs, GPUSupport, error) {
	if !asksGPUs(gpus) {
		return "none", GPUSupport{}, nil
	}
	s, err := e.GPUSupport(ctx)
	if err != nil {
		return "", s, err
	}
	if !s.Serves() {
		if gpus.Mode() == "auto" {
			return "none", s, nil
		}
		return "", s, &NoGPUsError{Support: s}
	}
	narrowed, err := given.Narrow(gpus)
	return narrowed, s, err
}

// asksGPUs says whether a setting asks for any GPU.
func asksGPUs(g schema.GPUs) bool { return g != "" && g.Mode() != "none" }

// DeviceRequests is what `docker run --gpus` sends for a gpus setting
// (driver "nvidia"), or the CDI devices it names (driver "cdi": "all",
// device ids, or the first N of the spec's devices for a count): the one
// place mlenv's GPUs become the engine API's.
func DeviceRequests(gpus schema.GPUs, driver string, cdi []string) []container.DeviceRequest {
	if !asksGPUs(gpus) || gpus.Mode() == "invalid" {
		return nil
	}
	if driver == "cdi" {
		return []container.DeviceRequest{{Driver: "cdi", DeviceIDs: cdiNames(gpus, cdi)}}
	}
	req := container.DeviceRequest{Driver: "nvidia", Capabilities: [][]string{{"gpu"}}}
	switch gpus.Mode() {
	case "all", "auto":
		req.Count = -1
	case "count":
		req.Count = gpus.Count()
	default:
		req.DeviceIDs = gpus.DeviceIDs()
	}
	return []container.DeviceRequest{req}
}

// cdiNames are the CDI device names for a gpus setting.
func cdiNames(gpus schema.GPUs, cdi []string) []string {
	switch gpus.Mode() {
	case "all", "auto":
		return []string{cdiKind + "=all"}
	case "count":
		named := slices.DeleteFunc(slices.Clone(cdi), func(n string) bool { return strings.HasSuffix(n, "=all") })
		return named[:min(gpus.Count(), len(named))]
	}
	var out []string
	for _, id := range gpus.DeviceIDs() {
		out = append(out, cdiKind+"="+id)
	}
	return out
}
