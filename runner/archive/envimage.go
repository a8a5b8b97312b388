package archive

import (
	"context"
	"fmt"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/internal/envrecord"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/runner"
)

// AnnotationKind marks an environment image in the layout ("env"); the
// base images have none.
const AnnotationKind = "dev.mlenv.kind"

// writeEnvs builds every locked platform's environment image from the
// archive's own base image and wheels, checks it against the lock, and
// adds it to the layout, so that `run --from` installs nothing. A lock
// with files that are not wheels keeps only the wheels: its environment is
// built from them with pip when it runs.
func writeEnvs(ctx context.Context, l *lock.Lock, dir string) error {
	p, err := layout.FromPath(filepath.Join(dir, ImageDir))
	if err != nil {
		return err
	}
	for _, pl := range l.Image.Platforms {
		if len(l.PackagesFor(pl.Platform)) == 0 {
			continue
		}
		base, err := layoutImage(p, pl.Digest)
		if err != nil {
			return err
		}
		b, err := envimage.Build(ctx, l, pl.Platform, base, envimage.Options{Wheelhouse: filepath.Join(dir, WheelsDir)})
		if err != nil {
			return fmt.Errorf("build the %s environment for the archive: %w", pl.Platform, err)
		}
		if pl.EnvDigest != "" && b.Digest.String() != pl.EnvDigest {
			b.Close()
			return fmt.Errorf("the %s environment built for the archive is %s, but mlenv.lock records %s: the build is not reproducible (run `mlenv verify --deep`)", pl.Platform, b.Digest, pl.EnvDigest)
		}
		plat, err := v1.ParsePlatform(pl.Platform)
		if err == nil {
			err = p.AppendImage(b.Image, layout.WithPlatform(*plat), layout.WithAnnotations(map[string]string{
				AnnotationPlatform: pl.Platform, AnnotationKind: "env",
				"org.opencontainers.image.ref.name": lock.EnvRefName(b.Digest.String()),
			}))
		}
		b.Close()
		if err != nil {
			return fmt.Errorf("save the %s environment: %w", pl.Platform, err)
		}
	}
	return nil
}

// archiveImage is the image with the given manifest digest in the vendor
// archive in dir.
func archiveImage(dir, digest string) (v1.Image, error) {
	p, err := layout.FromPath(filepath.Join(dir, ImageDir))
	if err != nil {
		return nil, fmt.Errorf("%s is not an mlenv vendor archive (no OCI layout in %s/): %w", dir, ImageDir, err)
	}
	return layoutImage(p, digest)
}

func layoutImage(p layout.Path, digest string) (v1.Image, error) {
	h, err := v1.NewHash(digest)
	if err != nil {
		return nil, err
	}
	return p.Image(h)
}

// loadEnv loads the archive's environment image for platform, if it has
// one, under the environment's name; the run then finds it by its ID.
func loadEnv(ctx context.Context, e runner.Loader, dir string, l *lock.Lock, platform string) error {
	env, err := runner.EnvFor(l, platform, l.Run.PipCache)
	if err != nil || env.Locked.EnvDigest == "" || len(env.Packages) == 0 {
		return err
	}
	if e.HasImage(ctx, env.Locked.EnvConfig) {
		return nil
	}
	// Only digests mlenv computed here are loaded as they are; otherwise
	// the run builds from the archive's wheels and checks them first.
	if store, err := envrecord.Default(); err != nil {
		return err
	} else if ok, err := store.Check(l, platform); !ok {
		return err
	}
	img, err := archiveImage(dir, env.Locked.EnvDigest)
	if err != nil {
		return nil // an archive without it: the run builds from its wheels
	}
	return e.LoadEnv(ctx, img, env.Image())
}

// BaseImage is the archive's base image for platform (a runner.BaseSource).
func (a Archive) BaseImage(_ context.Context, l *lock.Lock, platform string) (v1.Image, error) {
	pl, ok := l.Image.Platform(platform)
	if !ok {
		return nil, fmt.Errorf("the lock has no %s image", platform)
	}
	return archiveImage(string(a), pl.Digest)
}
