// Package enginefake is an in-memory container engine for testing mlenv's
// own rules without Docker, as go-containerregistry's pkg/v1/fake is for
// its interfaces. Engine answers runner.Client's calls from maps of
// images, layers, containers and volumes, and runs a container by calling
// the Program its test registered for the command. It records what the
// engine was asked (Calls) and what every container was created with, so
// a test asserts what a user would see in `docker inspect`.
//
// It is no engine test: the real engines (Docker, podman) are tested in
// cmd/mlenv against themselves. The fake is for mlenv's decisions: which
// image a run uses, what is pulled, built, named and removed, the exit
// codes and the container configuration.
package enginefake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

// Engine is one in-memory engine. The zero value is not ready: use New.
type Engine struct {
	mu sync.Mutex
	// OS and Architecture are what Info reports (linux, x86_64).
	OS, Architecture string
	// Runtimes are the container runtimes Info lists (add "nvidia" for a
	// GPU host).
	Runtimes map[string]system.RuntimeWithStatus
	// Remote holds what a pull can get: repository@digest → image.
	Remote map[string]*Image
	// PullError, when set, is what every pull answers (a registry the
	// engine cannot reach).
	PullError error
	// FullLoadsOnly refuses archives that lack layers the engine has
	// (podman and the containerd store want every layer).
	FullLoadsOnly bool
	// LoadedLayerBytes counts the bytes of the layers archives sent.
	LoadedLayerBytes int64
	// Podman makes the engine say it is podman (ServerVersion), which
	// serves GPUs by CDI only; DropDeviceRequests makes it record no
	// device requests, as podman 4.3 does with CDI ones from Docker API
	// clients.
	Podman, DropDeviceRequests bool
	// Rootless makes Info report a rootless engine.
	Rootless bool
	// DaemonPATH, when set, is the engine process's PATH (DaemonEnv);
	// unset, the engine's environment cannot be read.
	DaemonPATH string
	// InfoCDIDirs are the CDI spec directories Info reports (docker with
	// CDI enabled); PodmanCDIDirs where podman reads them.
	InfoCDIDirs, PodmanCDIDirs []string
	// Programs run containers: the command's argv[0] → what it does. A
	// command without one is not found (exit 127 in docker's words).
	Programs map[string]Program

	images     map[string]*Image // by ID
	names      map[string]string // repo:tag or repo@digest → ID
	layers     map[string][]byte // uncompressed layer tar by diff ID
	containers map[string]*Container
	volumes    map[string]map[string]string // name → labels
	calls      []string
	seq        int
}

// New is an empty linux/amd64 engine.
func New() *Engine {
	return &Engine{
		OS: "linux", Architecture: "x86_64",
		Runtimes: map[string]system.RuntimeWithStatus{"runc": {}},
		Remote:   map[string]*Image{}, Programs: map[string]Program{},
		images: map[string]*Image{}, names: map[string]string{}, layers: map[string][]byte{},
		containers: map[string]*Container{}, volumes: map[string]map[string]string{},
	}
}

// Calls lists the API calls made so far, one word each (ImagePull, …).
func (e *Engine) Calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// Count is how many times the call was made.
func (e *Engine) Count(call string) int {
	n := 0
	for _, c := range e.Calls() {
		if c == call {
			n++
		}
	}
	return n
}

func (e *Engine) record(call string) {
	e.mu.Lock()
	e.calls = append(e.calls, call)
	e.mu.Unlock()
}

// call records an API call and holds the engine's lock until the
// returned func: `defer e.call("ImageTag")()`.
func (e *Engine) call(name string) (unlock func()) {
	e.mu.Lock()
	e.calls = append(e.calls, name)
	return e.mu.Unlock
}

func (e *Engine) nextID(prefix string) string {
	e.seq++
	return fmt.Sprintf("%s%061d", prefix, e.seq)
}

func notFound(what string) error { return fmt.Errorf("No such %s: %w", what, cerrdefs.ErrNotFound) }

func conflict(what string) error { return fmt.Errorf("%s: %w", what, cerrdefs.ErrConflict) }

// Ping answers while the engine is up.
func (e *Engine) Ping(context.Context, client.PingOptions) (client.PingResult, error) {
	e.record("Ping")
	return client.PingResult{APIVersion: "1.41", OSType: e.OS}, nil
}

// Info reports the platform and runtimes.
func (e *Engine) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	e.record("Info")
	info := system.Info{OSType: e.OS, Architecture: e.Architecture, Runtimes: e.Runtimes, CDISpecDirs: e.InfoCDIDirs,
		SecurityOptions: []string{"name=seccomp,profile=builtin"}}
	if e.Rootless {
		info.SecurityOptions = append(info.SecurityOptions, "name=rootless")
	}
	return client.SystemInfoResult{Info: info}, nil
}

// ServerVersion names the engine: Docker, or podman.
func (e *Engine) ServerVersion(context.Context, client.ServerVersionOptions) (client.ServerVersionResult, error) {
	e.record("ServerVersion")
	v := client.ServerVersionResult{Version: "20.10.24", APIVersion: "1.41", Os: e.OS}
	if e.Podman {
		v.Version = "4.3.1"
		v.Components = []system.ComponentVersion{{Name: "Podman Engine", Version: "4.3.1"}}
	}
	return v, nil
}

// DaemonEnv is the engine process's environment, when DaemonPATH says it.
func (e *Engine) DaemonEnv() ([]string, error) {
	if e.DaemonPATH == "" {
		return nil, errors.New("permission denied")
	}
	return []string{"PATH=" + e.DaemonPATH}, nil
}

// DaemonUID is root, or a user for a Rootless engine.
func (e *Engine) DaemonUID() (int, error) {
	if e.Rootless {
		return 1000, nil
	}
	return 0, nil
}

// CDISpecDirs are where the fake podman reads CDI specs.
func (e *Engine) CDISpecDirs() []string { return e.PodmanCDIDirs }

// Close does nothing.
func (e *Engine) Close() error { return nil }
