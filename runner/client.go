package runner

import (
	"context"
	"io"

	"github.com/moby/moby/client"
)

// Client is what mlenv asks of a container engine: the calls of the
// Docker Engine API it makes, and no others, in the types of moby's
// client (as go-containerregistry's daemon.Client is). A *client.Client
// connected by package runner/docker satisfies it, for Docker and for
// podman's Docker-compatible service; internal/enginefake is an in-memory
// engine for testing mlenv's own rules.
type Client interface {
	Ping(ctx context.Context, options client.PingOptions) (client.PingResult, error)
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
	ServerVersion(ctx context.Context, options client.ServerVersionOptions) (client.ServerVersionResult, error)
	Close() error

	ImageInspect(ctx context.Context, image string, options ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageList(ctx context.Context, options client.ImageListOptions) (client.ImageListResult, error)
	ImageTag(ctx context.Context, options client.ImageTagOptions) (client.ImageTagResult, error)
	ImagePull(ctx context.Context, ref string, options client.ImagePullOptions) (client.ImagePullResponse, error)
	ImageLoad(ctx context.Context, input io.Reader, options ...client.ImageLoadOption) (client.ImageLoadResult, error)
	ImageSave(ctx context.Context, images []string, options ...client.ImageSaveOption) (client.ImageSaveResult, error)
	ImageRemove(ctx context.Context, image string, options client.ImageRemoveOptions) (client.ImageRemoveResult, error)
	DiskUsage(ctx context.Context, options client.DiskUsageOptions) (client.DiskUsageResult, error)

	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerInspect(ctx context.Context, id string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerAttach(ctx context.Context, id string, options client.ContainerAttachOptions) (client.ContainerAttachResult, error)
	ContainerStart(ctx context.Context, id string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerWait(ctx context.Context, id string, options client.ContainerWaitOptions) client.ContainerWaitResult
	ContainerKill(ctx context.Context, id string, options client.ContainerKillOptions) (client.ContainerKillResult, error)
	ContainerResize(ctx context.Context, id string, options client.ContainerResizeOptions) (client.ContainerResizeResult, error)
	ContainerRemove(ctx context.Context, id string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	CopyToContainer(ctx context.Context, id string, options client.CopyToContainerOptions) (client.CopyToContainerResult, error)
	CopyFromContainer(ctx context.Context, id string, options client.CopyFromContainerOptions) (client.CopyFromContainerResult, error)

	VolumeInspect(ctx context.Context, name string, options client.VolumeInspectOptions) (client.VolumeInspectResult, error)
	VolumeCreate(ctx context.Context, options client.VolumeCreateOptions) (client.VolumeCreateResult, error)
	VolumeList(ctx context.Context, options client.VolumeListOptions) (client.VolumeListResult, error)
	VolumeRemove(ctx context.Context, name string, options client.VolumeRemoveOptions) (client.VolumeRemoveResult, error)
}

// EngineHost is a Client of an engine on this machine, which can say
// what the engine itself reads there: its process's environment (the
// PATH it looks up its GPU hook on) and where it reads CDI specs (podman,
// which does not report them), and its user. runner/docker's clients of a local socket
// are; a remote engine's are not.
type EngineHost interface {
	DaemonEnv() ([]string, error)
	// DaemonUID is the user the engine's process runs as: not root
	// means a rootless engine (rootless podman's Docker API does not say
	// it is one).
	DaemonUID() (int, error)
	CDISpecDirs() []string
}

// Dial connects to an engine (docker.Connect, or a fake's).
type Dial func(ctx context.Context) (Client, error)

var _ Client = (*client.Client)(nil)
