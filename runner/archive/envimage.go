package archive

import (
	"context"
	"fmt"
	"io"
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

// An image the registry no longer had was saved from the engine: its
// config is the locked one, its layers the engine's, so its manifest is
// not the locked digest. The layout says so, and names its config, by
// which it is found.
const (
	AnnotationSource = "dev.mlenv.source" // "engine"
	AnnotationConfig = "dev.mlenv.config" // its config digest
)

// writeEnvs builds every locked platform's environment image from the
// archive's own base image and files, checks it against the lock, and
// adds it to the layout, so that `run --from` installs nothing. Files
// that are not wheels are built by pip (o.Pip) from the archive's files
// alone, their build requirements included.
func writeEnvs(ctx context.Context, l *lock.Lock, dir string, o WriteOptions) error {
	p, err := layout.FromPath(filepath.Join(dir, ImageDir))
	if err != nil {
		return err
	}
	wheels := filepath.Join(dir, WheelsDir)
	eo := envimage.Options{Wheelhouse: wheels}
	if len(envimage.NonWheels(l.Packages)) > 0 {
		if o.Pip == nil {
			tell(o.Info, "environment: not archived (files that are not wheels need pip in a container of the image): a run from the archive builds it from the archive's files")
			return nil
		}
		pip := o.Pip(wheels)
		eo.Pip = func(ctx context.Context, platform string, pkgs []lock.Package) (io.ReadCloser, error) {
			return pip(ctx, l, platform, pkgs)
		}
	}
	for _, pl := range l.Image.Platforms {
		if len(l.PackagesFor(pl.Platform)) == 0 {
			continue
		}
		base, fromEngine, err := findImage(p, pl.Digest, pl.Config)
		if err != nil {
			return err
		}
		b, err := envimage.Build(ctx, l, pl.Platform, base, eo)
		if err != nil {
			return fmt.Errorf("build the %s environment for the archive: %w", pl.Platform, err)
		}
		// On the engine's copy of the base, only the config can be the
		// lock's: it names every layer by its uncompressed digest.
		switch {
		case fromEngine && b.Config.String() != pl.EnvConfig:
			b.Close()
			return fmt.Errorf("the %s environment built on the engine's copy of the base image has config %s, but mlenv.lock records %s", pl.Platform, b.Config, pl.EnvConfig)
		case !fromEngine && pl.EnvDigest != "" && b.Digest.String() != pl.EnvDigest:
			b.Close()
			return fmt.Errorf("the %s environment built for the archive is %s, but mlenv.lock records %s: the build is not reproducible (run `mlenv verify --deep`)", pl.Platform, b.Digest, pl.EnvDigest)
		}
		annotations := map[string]string{AnnotationPlatform: pl.Platform, AnnotationKind: "env", AnnotationConfig: b.Config.String(),
			"org.opencontainers.image.ref.name": lock.EnvRefName(b.Digest.String())}
		if fromEngine {
			annotations[AnnotationSource] = "engine"
		}
		plat, err := v1.ParsePlatform(pl.Platform)
		if err == nil {
			err = p.AppendImage(b.Image, layout.WithPlatform(*plat), layout.WithAnnotations(annotations))
		}
		if err == nil {
			tell(o.Info, fmt.Sprintf("%s environment: %s, built from the archive's base image and files, checked against the lock", pl.Platform, b.Digest))
		}
		b.Close()
		if err != nil {
			return fmt.Errorf("save the %s environment: %w", pl.Platform, err)
		}
	}
	return nil
}

// archiveImage is the image with the given manifest digest in the vendor
// archive in dir, or, where it was saved from the engine, the one of that
// config.
func archiveImage(dir, digest, config string) (v1.Image, error) {
	p, err := layout.FromPath(filepath.Join(dir, ImageDir))
	if err != nil {
		return nil, fmt.Errorf("%s is not an mlenv vendor archive (no OCI layout in %s/): %w", dir, ImageDir, err)
	}
	img, _, err := findImage(p, digest, config)
	return img, err
}

// findImage is the layout's image of the manifest digest, else the one
// saved from the engine with that config (fromEngine).
func findImage(p layout.Path, digest, config string) (img v1.Image, fromEngine bool, err error) {
	h, err := v1.NewHash(digest)
	if err != nil {
		return nil, false, err
	}
	if img, err := p.Image(h); err == nil {
		return img, false, nil
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, false, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, false, err
	}
	for _, d := range m.Manifests {
		if d.Annotations[AnnotationSource] == "engine" && config != "" && d.Annotations[AnnotationConfig] == config {
			img, err := p.Image(d.Digest)
			return img, true, err
		}
	}
	return nil, false, fmt.Errorf("the archive has no image %s", digest)
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
	img, err := archiveImage(dir, env.Locked.EnvDigest, env.Locked.EnvConfig)
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
	return archiveImage(string(a), pl.Digest, pl.Config)
}
