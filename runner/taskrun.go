package runner

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mlenv/mlenv/internal/leftover"
	"github.com/mlenv/mlenv/internal/task"
)

// NativePlatform is the engine's own os/arch.
func (e *Engine) NativePlatform(ctx context.Context) (string, error) {
	info, err := e.sysInfo(ctx)
	if err != nil {
		return "", err
	}
	arch := map[string]string{"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm/v7", "ppc64le": "ppc64le", "s390x": "s390x"}[info.Architecture]
	if arch == "" {
		arch = info.Architecture
	}
	return info.OSType + "/" + arch, nil
}

// Exec runs a short-lived container to completion: the image by digest,
// files copied in, host networking, stdout and stderr collected (stderr
// also streamed to req.Progress). The container is removed however Exec
// ends, also when ctx is cancelled.
func (e *Engine) Exec(ctx context.Context, req task.Request) (*task.Result, error) {
	id, res, err := e.runTask(ctx, req, false)
	if id != "" {
		e.remove(id)
	}
	return res, err
}

// runTask is Exec that leaves the stopped container for the caller (to
// commit), who must remove it; id is set whenever a container was made.
// With keepEntrypoint the image's entrypoint runs argv (so a committed
// image keeps it); otherwise argv[0] replaces it.
func (e *Engine) runTask(ctx context.Context, req task.Request, keepEntrypoint bool) (id string, _ *task.Result, _ error) {
	ref := ImageRef{Repository: req.Repository, Digest: req.Digest, Platform: req.Platform, Config: req.Config}
	local, err := e.EnsureImage(ctx, ref, req.Progress)
	if err != nil {
		return "", nil, err
	}
	for _, vol := range sortedKeys(req.Volumes) {
		if err := e.EnsureVolume(ctx, vol); err != nil {
			return "", nil, err
		}
	}
	e.sweepLeftovers(ctx)
	id, err = e.createTask(ctx, local, ref.Platform, req, keepEntrypoint)
	if err != nil {
		return "", nil, err
	}
	res, err := e.startTask(ctx, id, req)
	return id, res, err
}

func (e *Engine) startTask(ctx context.Context, id string, req task.Request) (*task.Result, error) {
	if len(req.Files) > 0 {
		if _, err := e.Client.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: "/", Content: tarOf(req.Files)}); err != nil {
			return nil, fmt.Errorf("copy files into the container: %w", err)
		}
	}
	// Attached before it starts, as docker run does: the output of a task
	// that ends at once is read before the engine auto-removes it.
	attach, err := e.Client.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	defer attach.Close()
	wait := e.Client.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := e.Client.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return nil, &CommandError{Argv: req.Argv, Err: err}
	}
	var stdout, stderr bytes.Buffer
	errw := io.Writer(&stderr)
	if req.Progress != nil {
		errw = io.MultiWriter(&stderr, req.Progress)
	}
	_, copyErr := stdcopy.StdCopy(&stdout, errw, attach.Reader)
	if copyErr != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("read container output: %w", copyErr)
	}
	select {
	case res := <-wait.Result:
		if res.Error != nil {
			return nil, fmt.Errorf("container: %s", res.Error.Message)
		}
		return &task.Result{ExitCode: int(res.StatusCode), Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}, nil
	case err := <-wait.Error:
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *Engine) createTask(ctx context.Context, image, platform string, req task.Request, keepEntrypoint bool) (string, error) {
	p, err := parsePlatform(platform)
	if err != nil {
		return "", err
	}
	var mounts []mount.Mount
	for _, vol := range sortedKeys(req.Volumes) {
		mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: vol, Target: req.Volumes[vol]})
	}
	for _, host := range sortedKeys(req.Binds) {
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: host, Target: req.Binds[host], ReadOnly: true})
	}
	cfg := &container.Config{
		Image:      image,
		Entrypoint: req.Argv[:1],
		Cmd:        req.Argv[1:],
		Env:        req.Env,
		User:       "0:0",
		WorkingDir: "/",
		Labels:     map[string]string{LabelTask: "1", LabelOwner: leftover.Owner()},
	}
	if keepEntrypoint {
		cfg.Entrypoint, cfg.Cmd = nil, req.Argv
	}
	res, err := e.Client.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: cfg,
		// A task the caller need not commit goes with its process, also when
		// mlenv is killed; one it commits is removed by the caller, or by
		// the next mlenv once its owner is dead (sweepLeftovers).
		HostConfig: &container.HostConfig{NetworkMode: "host", Mounts: mounts, AutoRemove: !keepEntrypoint},
		Platform:   &ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant},
	})
	if err != nil {
		return "", fmt.Errorf("create container from %s: %w", image, err)
	}
	return res.ID, nil
}

// LabelTask marks mlenv's own short-lived containers.
const LabelTask = "dev.mlenv.task"

// remove force-removes a container with a fresh context, so that it goes
// also when the caller's context was cancelled.
func (e *Engine) remove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.Client.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
}

// CommandError is a container whose command could not start, typically
// because its executable is missing from the image.
type CommandError struct {
	Argv []string // the command; empty: the image's own
	Err  error
}

func (e *CommandError) Error() string {
	if len(e.Argv) == 0 {
		return fmt.Sprintf("start the container: %v", e.Err)
	}
	return fmt.Sprintf("start the container's %s: %v", e.Argv[0], e.Err)
}
func (e *CommandError) Unwrap() error { return e.Err }

// NotFound reports whether the executable was missing (docker run's
// words, and podman's with crun or runc). "No such file or directory"
// counts only where it is about the command (the runtime's exec of its
// path): a missing file of the engine's own (a network helper, a mount)
// is no missing command.
func (e *CommandError) NotFound() bool {
	s := strings.ToLower(e.Err.Error())
	if strings.Contains(s, "executable file not found") || strings.Contains(s, "command was not found") {
		return true
	}
	about := "exec:"
	if len(e.Argv) > 0 {
		about = strings.ToLower(e.Argv[0])
	}
	return strings.Contains(s, "no such file or directory") && strings.Contains(s, about)
}

// NotExecutable reports whether the executable could not be run: not
// executable, or a directory.
func (e *CommandError) NotExecutable() bool {
	s := strings.ToLower(e.Err.Error())
	return strings.Contains(s, "permission denied") || strings.Contains(s, "is a directory")
}

// Code is the exit code docker run gives for it: 127 for a command that
// is not found, 126 for one that cannot be run, else 125.
func (e *CommandError) Code() int {
	switch {
	case e.NotFound():
		return 127
	case e.NotExecutable():
		return 126
	}
	return 125
}

func tarOf(files map[string][]byte) io.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, name := range sortedKeys(files) {
		rel := strings.TrimPrefix(name, "/")
		for d := path.Dir(rel); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for _, d := range sortedKeys(dirs) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755})
	}
	for _, name := range sortedKeys(files) {
		tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(name, "/"), Mode: 0o644, Size: int64(len(files[name]))})
		tw.Write(files[name])
	}
	tw.Close()
	return &buf
}

// sortedKeys is m's keys in order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
