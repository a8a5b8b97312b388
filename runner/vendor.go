package runner

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
	"github.com/mlenv/mlenv/resolve"
)

// LoadVendored loads the locked image for platform from a `mlenv vendor`
// archive into the engine (no registry needed) and checks it is the
// locked one. The engine then finds it by its config digest.
func (e *Engine) LoadVendored(ctx context.Context, dir string, l *lock.Lock, platform string) error {
	var pl *lock.Platform
	for i := range l.Image.Platforms {
		if l.Image.Platforms[i].Platform == platform {
			pl = &l.Image.Platforms[i]
		}
	}
	if pl == nil {
		return fmt.Errorf("the lock has no %s image to load", platform)
	}
	if _, err := e.Client.ImageInspect(ctx, pl.Config); err == nil {
		return nil // already loaded
	}
	p, err := layout.FromPath(filepath.Join(dir, resolve.VendorImageDir))
	if err != nil {
		return fmt.Errorf("%s is not an mlenv vendor archive (no OCI layout in %s/): %w", dir, resolve.VendorImageDir, err)
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
