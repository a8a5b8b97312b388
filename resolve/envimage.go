package resolve

import (
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/internal/envrecord"
	"github.com/mlenv/mlenv/internal/registry"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// pinEnv records every locked platform's environment image digests in
// next (lock's env and env-config): kept from prev when nothing that goes
// into them changed (offline), the base image's own when the lock installs
// nothing, else built with envimage (which fetches the locked files).
func pinEnv(ctx context.Context, prev, next *lock.Lock, o Options) error {
	if prev != nil && sameEnvInputs(prev, next) {
		for i := range next.Image.Platforms {
			old, _ := prev.Image.Platform(next.Image.Platforms[i].Platform)
			next.Image.Platforms[i].EnvDigest, next.Image.Platforms[i].EnvConfig = old.EnvDigest, old.EnvConfig
		}
		return nil
	}
	for i := range next.Image.Platforms {
		pl := &next.Image.Platforms[i]
		if len(next.PackagesFor(pl.Platform)) == 0 {
			pl.EnvDigest, pl.EnvConfig = pl.Digest, pl.Config
			continue
		}
		b, err := buildEnv(ctx, next, pl.Platform, o, true)
		if err != nil {
			return fmt.Errorf("build the %s environment to record its digest: %w", pl.Platform, err)
		}
		pl.EnvDigest, pl.EnvConfig = b.Digest.String(), b.Config.String()
		err = remember(next, pl.Platform, b.Image)
		b.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// computeEnv computes l's env digests for platform, compares them with the
// lock's (where it records them) and records them.
func computeEnv(ctx context.Context, l *lock.Lock, platform string, o Options) error {
	b, err := buildEnv(ctx, l, platform, o, true)
	if err != nil {
		return fmt.Errorf("compute the %s environment: %w", platform, err)
	}
	defer b.Close()
	got := envrecord.Digests{Env: b.Digest.String(), Config: b.Config.String()}
	if want := envrecord.Locked(l, platform); want.Config != "" && got != want {
		return &envrecord.MismatchError{Platform: platform, Locked: want, Computed: got}
	}
	return remember(l, platform, b.Image)
}

// remember records that mlenv computed l's env digests for platform here
// (envrecord), so that runs on this machine trust them.
func remember(l *lock.Lock, platform string, img v1.Image) error {
	store, err := envrecord.Default()
	if err == nil {
		err = store.Remember(envrecord.Inputs(l, platform), img)
	}
	if err != nil {
		return fmt.Errorf("record the %s environment mlenv computed: %w", platform, err)
	}
	return nil
}

// BuildEnv builds l's environment image for platform from the registry's
// base image and the locked files (see envimage.Build).
func BuildEnv(ctx context.Context, l *lock.Lock, platform string, o Options) (*envimage.Built, error) {
	return buildEnv(ctx, l, platform, o, false)
}

func buildEnv(ctx context.Context, l *lock.Lock, platform string, o Options, digestOnly bool) (*envimage.Built, error) {
	pl, ok := l.Image.Platform(platform)
	if !ok {
		return nil, fmt.Errorf("the lock has no %s image", platform)
	}
	if o.Registry == nil {
		return nil, fmt.Errorf("no registry to read the base image from")
	}
	base, err := RegistryBase{o.Registry}.BaseImage(ctx, l, pl.Platform)
	if err != nil {
		return nil, err
	}
	eo := envimage.Options{Client: o.indexClient(), Info: o.Info, DigestOnly: digestOnly, Phases: o.Phases, NoLayerCache: o.FreshLayers}
	if o.Pip != nil {
		eo.Pip = func(ctx context.Context, platform string, pkgs []lock.Package) (io.ReadCloser, error) {
			return o.Pip(ctx, l, platform, pkgs)
		}
	}
	return envimage.Build(ctx, l, platform, base, eo)
}

// RegistryBase gives a lock's base images from their registry (a
// runner.BaseSource).
type RegistryBase struct{ *registry.Registry }

// BaseImage is l's base image for platform, by its manifest digest.
func (r RegistryBase) BaseImage(ctx context.Context, l *lock.Lock, platform string) (v1.Image, error) {
	pl, ok := l.Image.Platform(platform)
	if !ok {
		return nil, fmt.Errorf("the lock has no %s image", platform)
	}
	repo, err := name.NewRepository(l.Image.Repository)
	if err != nil {
		return nil, err
	}
	return r.Image(ctx, repo, pl.Digest)
}

// sameEnvInputs says whether a and b build the same environments: the
// same platforms, each from the same inputs (envrecord.Inputs), and every
// platform recorded.
func sameEnvInputs(a, b *lock.Lock) bool {
	if len(a.Image.Platforms) != len(b.Image.Platforms) {
		return false
	}
	for i, p := range a.Image.Platforms {
		if p.EnvDigest == "" || p.EnvConfig == "" || b.Image.Platforms[i].Platform != p.Platform ||
			envrecord.Inputs(a, p.Platform) != envrecord.Inputs(b, p.Platform) {
			return false
		}
	}
	return true
}

// EnvMismatchError is an environment built here whose digest is not the
// lock's.
type EnvMismatchError struct {
	Platform, Built, Locked string
}

func (e *EnvMismatchError) Error() string {
	return fmt.Sprintf("the %s environment built here is %s, but mlenv.lock records %s: the build is not reproducible (`mlenv verify --deep` names the files that differ)", e.Platform, e.Built, e.Locked)
}

// BuildEnvs builds every locked platform's environment (BuildEnv) and
// checks each against the lock's env digest; the caller closes them.
func BuildEnvs(ctx context.Context, l *lock.Lock, o Options) ([]*envimage.Built, error) {
	var out []*envimage.Built
	for _, pl := range l.Image.Platforms {
		b, err := BuildEnv(ctx, l, pl.Platform, o)
		if err == nil && pl.EnvDigest != "" && b.Digest.String() != pl.EnvDigest {
			b.Close()
			err = &EnvMismatchError{Platform: pl.Platform, Built: b.Digest.String(), Locked: pl.EnvDigest}
		} else if err == nil && pl.EnvDigest != "" && b.Packages > 0 {
			if err = remember(l, pl.Platform, b.Image); err != nil {
				b.Close()
			}
		}
		if err != nil {
			for _, b := range out {
				b.Close()
			}
			return nil, fmt.Errorf("%s: %w", pl.Platform, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// PushEnvs pushes built environments to repo as one index over their
// platforms, by digest (and tag, when set); it returns the index digest.
func PushEnvs(ctx context.Context, reg *registry.Registry, l *lock.Lock, built []*envimage.Built, repo, tag string) (string, error) {
	r, err := name.NewRepository(repo)
	if err != nil {
		return "", schema.BadInput(fmt.Errorf("%q is not a repository: %w", repo, err))
	}
	var images []registry.PlatformImage
	for _, b := range built {
		images = append(images, registry.PlatformImage{Platform: b.Platform, Image: b.Image})
	}
	d, err := reg.PushIndex(ctx, r, images, tag)
	if err != nil {
		return "", err
	}
	return d.String(), nil
}
