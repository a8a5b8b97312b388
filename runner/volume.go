package runner

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// EnsureVolume creates the named volume (pip's cache) when it is missing.
func (e *Engine) EnsureVolume(ctx context.Context, name string) error {
	if _, err := e.Client.VolumeInspect(ctx, name, client.VolumeInspectOptions{}); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	_, err := e.Client.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Labels: map[string]string{LabelPipCache: "1"}})
	if err != nil {
		return fmt.Errorf("create volume %s: %w", name, err)
	}
	return nil
}
