package archive

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/runner"
)

// Load loads the locked image for platform from an archive in dir into
// the engine (no registry needed), checks it is the locked one, and
// returns the archive's wheelhouse. The engine then finds the image by its
// config digest.
func Load(ctx context.Context, e runner.Loader, dir string, l *lock.Lock, platform string) (wheels string, _ error) {
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

func loadImage(ctx context.Context, e runner.Loader, dir string, l *lock.Lock, platform string) error {
	pl, ok := l.Image.Platform(platform)
	if !ok {
		return fmt.Errorf("the lock has no %s image to load", platform)
	}
	if e.HasImage(ctx, pl.Config) {
		return nil // already loaded
	}
	img, err := archiveImage(dir, pl.Digest, pl.Config)
	if err != nil {
		return fmt.Errorf("the %s image %s: vendor it again with `mlenv vendor`: %w", platform, pl.Digest, err)
	}
	if cfg, err := img.ConfigName(); err != nil || cfg.String() != pl.Config {
		return fmt.Errorf("the archive's %s image has config %v, the lock says %s", platform, cfg, pl.Config)
	}
	tag := "mlenv-vendor/image:" + strings.TrimPrefix(pl.Digest, "sha256:")[:16]
	if err := e.LoadImage(ctx, img, tag); err != nil {
		return fmt.Errorf("load the vendored image: %w", err)
	}
	return nil
}

// Archive is a vendor archive's directory: it restores a run with no
// registry and no index (a runner.Restorer).
type Archive string

// Restore loads the archive's image for platform and returns its wheels.
func (a Archive) Restore(ctx context.Context, e runner.Loader, l *lock.Lock, platform string) (string, error) {
	return Load(ctx, e, string(a), l, platform)
}
