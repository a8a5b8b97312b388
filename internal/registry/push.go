package registry

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PlatformImage is one platform's image of an index.
type PlatformImage struct {
	Platform string
	Image    v1.Image
}

// PushIndex pushes images to repo as one index over their platforms,
// addressed by its digest, and tags it when tag is not empty. It returns
// the index's digest. Layers the repository has are not sent again.
func (r *Registry) PushIndex(ctx context.Context, repo name.Repository, images []PlatformImage, tag string) (v1.Hash, error) {
	var idx v1.ImageIndex = empty.Index
	for _, pi := range images {
		p, err := v1.ParsePlatform(pi.Platform)
		if err != nil {
			return v1.Hash{}, err
		}
		mt, err := pi.Image.MediaType()
		if err != nil {
			return v1.Hash{}, err
		}
		if mt == types.DockerManifestSchema2 {
			idx = mutate.IndexMediaType(idx, types.DockerManifestList)
		} else {
			idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: pi.Image, Descriptor: v1.Descriptor{Platform: p}})
	}
	digest, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	opts := append(slices.Clone(r.ropts), remote.WithContext(ctx))
	ref := repo.Digest(digest.String())
	if err := r.writeIndex(ref, idx, opts); err != nil {
		return v1.Hash{}, Classify(fmt.Errorf("push: %w", err), ref.String())
	}
	if tag != "" {
		t := repo.Tag(tag)
		if err := remote.Tag(t, idx, opts...); err != nil {
			return v1.Hash{}, Classify(fmt.Errorf("tag: %w", err), t.String())
		}
	}
	return digest, nil
}

// writeIndex pushes idx, its bytes shown as a phase.
func (r *Registry) writeIndex(ref name.Reference, idx v1.ImageIndex, opts []remote.Option) error {
	ph := r.opts.Phases.Start("Pushing "+ref.Context().String(), 0, 0)
	updates := make(chan v1.Update, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for u := range updates {
			ph.Set(u.Complete, u.Total)
		}
	}()
	err := remote.WriteIndex(ref, idx, append(opts, remote.WithProgress(updates))...)
	<-done
	if err == nil {
		ph.End()
	}
	return err
}
