package resolve

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/internal/envrecord"
	"github.com/mlenv/mlenv/internal/registry"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// ProjectImage is the project image for platform: l's environment with
// the project's code (envimage.ReadCode of dir) as one more layer at the
// run's workdir. Its digest is a function of the lock and the commit: it
// is computed from this machine's record of the environment (no network,
// no engine) where there is one, else from the environment computed
// afresh (the base image's manifest and the locked files). The caller
// closes the code.
func ProjectImage(ctx context.Context, l *lock.Lock, platform, dir string, dirty bool, o Options) (v1.Image, *envimage.Code, error) {
	env, err := envImage(ctx, l, platform, o)
	if err != nil {
		return nil, nil, err
	}
	return projectOn(ctx, env, l, dir, dirty, true)
}

// ProjectOn is the project image on env, an environment built with its
// layers (to push); the caller closes the code.
func ProjectOn(ctx context.Context, env v1.Image, l *lock.Lock, dir string, dirty bool) (v1.Image, *envimage.Code, error) {
	return projectOn(ctx, env, l, dir, dirty, false)
}

func projectOn(ctx context.Context, env v1.Image, l *lock.Lock, dir string, dirty, digestOnly bool) (v1.Image, *envimage.Code, error) {
	mt, err := envimage.CodeMediaType(env)
	if err != nil {
		return nil, nil, err
	}
	code, err := envimage.ReadCode(ctx, dir, l.Run.Workdir, dirty, mt, digestOnly)
	if err != nil {
		return nil, nil, err
	}
	img, err := envimage.ProjectImage(env, code, l.Run.Workdir, l.Run.Command)
	if err != nil {
		code.Close()
		return nil, nil, err
	}
	return img, code, nil
}

// envImage is l's environment for platform as far as its digests go: the
// record's where this machine computed it, else computed (and recorded).
func envImage(ctx context.Context, l *lock.Lock, platform string, o Options) (v1.Image, error) {
	if _, ok := l.Image.Platform(platform); !ok {
		return nil, fmt.Errorf("the lock has no %s image", platform)
	}
	if len(l.PackagesFor(platform)) == 0 {
		if o.Registry == nil {
			return nil, fmt.Errorf("no registry to read the base image from")
		}
		return RegistryBase{o.Registry}.BaseImage(ctx, l, platform)
	}
	store, err := envrecord.Default()
	if err != nil {
		return nil, err
	}
	if ok, err := store.Check(l, platform); err != nil {
		return nil, err
	} else if ok {
		if img, ok := store.Image(envrecord.Inputs(l, platform)); ok {
			return img, nil
		}
	}
	if err := computeEnv(ctx, l, platform, o); err != nil {
		return nil, err
	}
	img, ok := store.Image(envrecord.Inputs(l, platform))
	if !ok {
		return nil, fmt.Errorf("the %s environment's record cannot be read back", platform)
	}
	return img, nil
}

// ProjectPush is a pushed project image.
type ProjectPush struct {
	Reference string // REPOSITORY@the index's digest
	// Platforms are each platform's project image, REPOSITORY@its
	// manifest's digest: what `mlenv export --code image` names.
	Platforms []PlatformReference
	Code      *envimage.Code
}

// PlatformReference is one platform's image by digest.
type PlatformReference struct {
	Platform  string `json:"platform"`
	Reference string `json:"reference"`
}

// PushProject pushes the project image on each built environment to repo
// as one index over the platforms (by digest, untagged).
func PushProject(ctx context.Context, reg *registry.Registry, l *lock.Lock, built []*envimage.Built, dir, repo string, dirty bool) (*ProjectPush, error) {
	r, err := name.NewRepository(repo)
	if err != nil {
		return nil, schema.BadInput(fmt.Errorf("%q is not a repository: %w", repo, err))
	}
	var images []registry.PlatformImage
	var code *envimage.Code
	push := &ProjectPush{}
	for _, b := range built {
		img, c, err := ProjectOn(ctx, b.Image, l, dir, dirty)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		code = c
		images = append(images, registry.PlatformImage{Platform: b.Platform, Image: img})
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		push.Platforms = append(push.Platforms, PlatformReference{Platform: b.Platform, Reference: repo + "@" + d.String()})
	}
	d, err := reg.PushIndex(ctx, r, images, "")
	if err != nil {
		return nil, err
	}
	push.Reference, push.Code = repo+"@"+d.String(), code
	return push, nil
}

// Has says whether the registry has ref (REPO@DIGEST): false with no error
// when it answers that it does not.
func Has(ctx context.Context, reg *registry.Registry, ref string) (bool, error) {
	d, err := name.NewDigest(ref)
	if err != nil {
		return false, err
	}
	_, err = reg.Head(ctx, d)
	if registry.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}
