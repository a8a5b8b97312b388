// Package archive writes and reads mlenv's archive of an environment: the
// locked image of every platform as an OCI image layout, the locked wheels
// checked against their hashes, and the project's files, so that a paper's
// environment can be restored with no registry and no index.
package archive

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/internal/indexauth"
	"github.com/mlenv/mlenv/internal/registry"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// Vendor archive layout: DIR/image is an OCI image layout holding every
// locked platform's image, DIR/wheels the locked files. Nothing in it, nor
// in the lock, depends on the machine that wrote it.
const (
	ImageDir  = "image"
	WheelsDir = "wheels"
	// AnnotationPlatform marks each image in the layout with its platform.
	AnnotationPlatform = "dev.mlenv.platform"
)

// WriteOptions say where Write takes the archive's parts from.
type WriteOptions struct {
	Registry *registry.Registry
	Auth     *indexauth.Auth // the indexes' credentials
	// Engine, when set, gives a locked image the registry no longer has:
	// the engine's copy, by its config digest (checked).
	Engine ImageSaver
	// Pip, when set, builds an environment with files that are not wheels
	// from the archive's wheelhouse (runner.Lazy's PipVenvFrom); without
	// it such a lock's archive holds no environment image, and a run
	// builds it from the archive's files.
	Pip func(wheelhouse string) func(context.Context, *lock.Lock, string, []lock.Package) (io.ReadCloser, error)
	// Info, when set, is told where each image came from.
	Info func(string)
}

// ImageSaver reads an image out of an engine by its ID (runner.Lazy).
type ImageSaver interface {
	SaveImage(ctx context.Context, id string) (v1.Image, func(), error)
}

// Write saves the locked image (every locked platform) and the locked
// wheels into dir, with the project's mlenv.toml, mlenv.lock and
// requirements file (at its path relative to mlenv.toml), so that the
// archive alone reruns the environment, with no registry, no index and no
// project: `mlenv run --from DIR` from any directory.
func Write(ctx context.Context, p *lock.Project, l *lock.Lock, dir string, o WriteOptions) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeImage(ctx, o, l, filepath.Join(dir, ImageDir)); err != nil {
		return err
	}
	if err := writeWheels(ctx, o.Registry, o.Auth, l, filepath.Join(dir, WheelsDir)); err != nil {
		return err
	}
	if n := len(l.Packages) + len(l.Build); n > 0 {
		tell(o.Info, fmt.Sprintf("files: %d locked files (%d of them build requirements) from their indexes, each checked against its locked hash", n, len(l.Build)))
	}
	if err := writeEnvs(ctx, l, dir, o); err != nil {
		return err
	}
	files := map[string]string{p.Spec.Path: schema.FileName, p.LockPath: lock.FileName}
	if req := p.Spec.Pip.Requirements; req != "" {
		if filepath.IsAbs(req) || !filepath.IsLocal(req) {
			return fmt.Errorf("%s: pip.requirements %q is outside the project: an archive can hold only files inside it (move the file into the project)", p.Spec.Path, req)
		}
		files[filepath.Join(p.Spec.Dir, req)] = req
	}
	for from, to := range files {
		b, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		dest := filepath.Join(dir, to)
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dest, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func writeImage(ctx context.Context, o WriteOptions, l *lock.Lock, dir string) error {
	repo, err := name.NewRepository(l.Image.Repository)
	if err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	for _, pl := range l.Image.Platforms {
		ref := repo.Digest(pl.Digest)
		annotations := map[string]string{"org.opencontainers.image.ref.name": l.Image.ByDigest(), AnnotationPlatform: pl.Platform}
		img, done, err := lockedImage(ctx, o, ref, pl)
		if err != nil {
			return err
		}
		if done != nil {
			annotations[AnnotationSource], annotations[AnnotationConfig] = "engine", pl.Config
			tell(o.Info, fmt.Sprintf("%s image: the registry no longer has %s; saved the engine's copy (config %s, checked)", pl.Platform, ref, pl.Config))
		} else {
			tell(o.Info, fmt.Sprintf("%s image: %s from the registry", pl.Platform, ref))
		}
		plat, err := v1.ParsePlatform(pl.Platform)
		if err == nil {
			err = p.AppendImage(img, layout.WithPlatform(*plat), layout.WithAnnotations(annotations))
		}
		if done != nil {
			done()
		}
		if err != nil {
			return fmt.Errorf("save %s (%s): %w", ref, pl.Platform, registry.Classify(err, ref.String()))
		}
	}
	return nil
}

// lockedImage is the platform's locked image from the registry, or, where
// the registry no longer has it, the engine's copy of its config (done
// then removes what the engine gave).
func lockedImage(ctx context.Context, o WriteOptions, ref name.Digest, pl lock.Platform) (v1.Image, func(), error) {
	desc, err := o.Registry.Get(ctx, ref)
	if err == nil {
		img, err := desc.Image()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", ref, err)
		}
		return img, nil, nil
	}
	if o.Engine == nil || !registry.IsNotFound(err) {
		return nil, nil, err
	}
	img, done, serr := o.Engine.SaveImage(ctx, pl.Config)
	if serr != nil {
		return nil, nil, fmt.Errorf("%w; nor could mlenv take it from the engine: %v (restore it from an earlier archive, or re-lock with `mlenv lock --upgrade`)", err, serr)
	}
	if cfg, err := img.ConfigName(); err != nil || cfg.String() != pl.Config {
		done()
		return nil, nil, fmt.Errorf("%w; the engine's image %s has config %v, not the locked one", err, pl.Config, cfg)
	}
	return img, done, nil
}

func tell(f func(string), s string) {
	if f != nil {
		f(s)
	}
}

// writeWheels copies every locked file into dir: from mlenv's download
// cache where it holds the file (so a file upstream deleted is still
// saved), else downloaded into it; each checked against its hash.
func writeWheels(ctx context.Context, reg *registry.Registry, auth *indexauth.Auth, l *lock.Lock, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := envimage.Files{Client: auth.Client(reg.HTTPClient())}
	for _, p := range append(slices.Clone(l.Packages), l.Build...) {
		cached, err := files.Path(ctx, p)
		if err != nil {
			return err
		}
		if err := copyFile(cached, filepath.Join(dir, filepath.Base(cached))); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
