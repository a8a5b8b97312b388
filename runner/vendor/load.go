package vendor

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/runner"
)

// Load loads the locked image for platform from an archive in dir into
// the engine (no registry needed), checks it is the locked one, and
// returns the archive's wheelhouse. The engine then finds the image by its
// config digest.
func Load(ctx context.Context, e *runner.Engine, dir string, l *lock.Lock, platform string) (wheels string, _ error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := loadImage(ctx, e, dir, l, platform); err != nil {
		return "", err
	}
	if err := loadEnv(ctx, e, dir, l, platform); err != nil {
		return "", err
	}
	return filepath.Join(dir, WheelsDir), nil
}

func loadImage(ctx context.Context, e *runner.Engine, dir string, l *lock.Lock, platform string) error {
	pl, ok := l.Image.Platform(platform)
	if !ok {
		return fmt.Errorf("the lock has no %s image to load", platform)
	}
	if _, err := e.Client.ImageInspect(ctx, pl.Config); err == nil {
		return nil // already loaded
	}
	p, err := layout.FromPath(filepath.Join(dir, ImageDir))
	if err != nil {
		return fmt.Errorf("%s is not an mlenv vendor archive (no OCI layout in %s/): %w", dir, ImageDir, err)
	}
	h, err := v1.NewHash(pl.Digest)
	if err != nil {
		return err
	}
	img, err := p.Image(h)
	if err != nil {
		return fmt.Errorf("the archive %s has no %s image %s: vendor it again with `mlenv vendor`: %w", dir, platform, pl.Digest, err)
	}
	if cfg, err := img.ConfigName(); err != nil || cfg.String() != pl.Config {
		return fmt.Errorf("the archive's %s image has config %v, the lock says %s", platform, cfg, pl.Config)
	}
	tag, err := name.NewTag(fmt.Sprintf("mlenv-vendor/image:%s", h.Hex[:16]))
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarball.Write(tag, img, pw)) }()
	res, err := e.Client.ImageLoad(ctx, pr)
	if err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("load the vendored image: %w", err)
	}
	defer res.Close()
	if _, err := io.Copy(io.Discard, res); err != nil {
		return fmt.Errorf("load the vendored image: %w", err)
	}
	if _, err := e.Client.ImageInspect(ctx, pl.Config); err != nil {
		return fmt.Errorf("the engine did not keep the vendored image: %w", err)
	}
	return nil
}

// Archive is a vendor archive's directory: it restores a run with no
// registry and no index (a runner.Restorer).
type Archive string

// Restore loads the archive's image for platform and returns its wheels.
func (a Archive) Restore(ctx context.Context, e *runner.Engine, l *lock.Lock, platform string) (string, error) {
	return Load(ctx, e, string(a), l, platform)
}
