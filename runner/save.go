package runner

import (
	"context"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// SaveImage is the engine's image id (an image ID: its config digest) as
// an image, read from `docker save`: its config is the engine's exact
// bytes, its layers the engine's uncompressed ones (so its manifest is not
// the registry's). done removes the spooled archive once the image has
// been read.
func (e *Engine) SaveImage(ctx context.Context, id string) (img v1.Image, done func(), err error) {
	path, err := spoolSave(ctx, e, id)
	if err != nil {
		return nil, nil, fmt.Errorf("save %s from the engine: %w", id, err)
	}
	done = func() { os.Remove(path) }
	if img, err = tarball.ImageFromPath(path, nil); err != nil {
		done()
		return nil, nil, fmt.Errorf("read the engine's %s: %w", id, err)
	}
	return img, done, nil
}

// SaveImage is the engine's SaveImage, connecting on first use.
func (z *Lazy) SaveImage(ctx context.Context, id string) (v1.Image, func(), error) {
	e, err := z.Engine(ctx)
	if err != nil {
		return nil, nil, err
	}
	if !e.HasImage(ctx, id) {
		return nil, nil, fmt.Errorf("the engine has no image %s", id)
	}
	return e.SaveImage(ctx, id)
}
