// Package resolve turns an mlenv.toml into an mlenv.lock: it pins the
// image against its registry (internal/registry, resolve/family), pins
// [pip] inside it (resolve/pip), keeps what did not change, and verifies a
// lock against the registries.
package resolve

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/mlenv/mlenv/internal/registry"
	"github.com/mlenv/mlenv/internal/version"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/resolve/family"
	"github.com/mlenv/mlenv/schema"
)

// ImagePin is a resolved image: what the lock's [image] and [versions]
// tables record.
type ImagePin struct {
	Image    lock.Image
	Versions lock.Versions
}

// Resolver pins images against registries.
type Resolver struct {
	Registry *registry.Registry
}

// Image resolves [image] to a pin. When prev (the lock being replaced)
// pinned the same tag and that tag still points at the same digest, its
// pin is reused after one HEAD request.
func (r *Resolver) Image(ctx context.Context, im schema.Image, prev *lock.Lock) (*ImagePin, error) {
	cs, err := family.ConstraintsOf(im)
	if err != nil {
		return nil, err
	}
	if im.Ref != "" {
		return r.pinRef(ctx, im, cs)
	}
	fam := family.Families[im.Family]
	if fam == nil {
		return nil, fmt.Errorf("unknown image family %q (known: %s)", im.Family, strings.Join(family.Names(), ", "))
	}
	repo, err := fam.Repo(im.Registry)
	if err != nil {
		return nil, err
	}
	tags, err := r.Registry.Tags(ctx, repo)
	if err != nil {
		return nil, err
	}
	cands, rejected := fam.Candidates(tags, cs)
	if len(cands) == 0 {
		return nil, family.NoMatch(repo, im, len(tags), fam.Nearest(rejected, cs, 3))
	}
	return r.pickFirst(ctx, fam, repo, im, cs, cands, prev)
}

// pickFirst inspects candidates best first and returns the first whose
// config-reported versions satisfy the constraints. Families whose tags
// say everything are inspected one at a time (the first normally passes);
// families whose versions live only in configs are read in windows of
// concurrent requests, newest first, stopping at the first window with a
// match.
func (r *Resolver) pickFirst(ctx context.Context, fam *family.Family, repo name.Repository, im schema.Image, cs family.Constraints, cands []family.Candidate, prev *lock.Lock) (*ImagePin, error) {
	window := 1
	if cands[0].NeedsConfig() {
		window = r.Registry.Jobs()
	}
	var tried []string
	for start := 0; start < len(cands); start += window {
		chunk := cands[start:min(start+window, len(cands))]
		pins := make([]*ImagePin, len(chunk))
		g, gctx := errgroup.WithContext(ctx)
		for i, c := range chunk {
			g.Go(func() error {
				if reused := r.reuse(gctx, repo, c.Tag, im, prev); reused != nil {
					pins[i] = reused
					return nil
				}
				pin, err := r.inspect(gctx, repo.Tag(c.Tag), im, fam, &c)
				pins[i] = pin
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		for i, pin := range pins {
			why := cs.VersionFailures(pinVersions(pin))
			if len(why) == 0 {
				pin.Image.Reference = reference(fam, im)
				return pin, nil
			}
			tried = append(tried, fmt.Sprintf("%s (%s)", chunk[i].Tag, strings.Join(why, "; ")))
		}
	}
	if len(tried) > 5 {
		tried = append(tried[:5], fmt.Sprintf("and %d more", len(tried)-5))
	}
	return nil, fmt.Errorf("no image of %s satisfies [image] once its config is read; tried:\n\t%s\nloosen the constraints in mlenv.toml", repo, strings.Join(tried, "\n\t"))
}

// reuse returns prev's pin when prev locked tag of repo for the same
// platforms and the tag still points at the locked digest.
func (r *Resolver) reuse(ctx context.Context, repo name.Repository, tag string, im schema.Image, prev *lock.Lock) *ImagePin {
	if prev == nil || prev.Image.Repository != repo.Name() || prev.Image.Tag != tag || !samePlatforms(prev.Image.Platforms, im.Platforms) {
		return nil
	}
	d, err := r.Registry.Head(ctx, repo.Tag(tag))
	if err != nil || d.Digest.String() != prev.Image.Digest {
		return nil
	}
	return &ImagePin{Image: prev.Image, Versions: prev.Versions}
}

func samePlatforms(locked []lock.Platform, want []string) bool {
	have := make([]string, len(locked))
	for i, p := range locked {
		have[i] = p.Platform
	}
	w := slices.Clone(want)
	slices.Sort(have)
	slices.Sort(w)
	return slices.Equal(have, w)
}

func reference(fam *family.Family, im schema.Image) string {
	if im.Ref != "" {
		return im.Ref
	}
	if im.Registry != "" {
		return im.Registry + "/" + fam.Repository
	}
	if fam.Registry == "index.docker.io" {
		return fam.Repository
	}
	return fam.Registry + "/" + fam.Repository
}

// pinRef pins an explicit reference and checks any constraints given.
func (r *Resolver) pinRef(ctx context.Context, im schema.Image, cs family.Constraints) (*ImagePin, error) {
	ref, err := name.ParseReference(im.Ref)
	if err != nil {
		return nil, fmt.Errorf("image ref %q: %w", im.Ref, err)
	}
	fam := family.ForRepository(ref.Context().RepositoryStr())
	var cand *family.Candidate
	if tag, ok := ref.(name.Tag); ok && fam != nil {
		if c, ok := fam.ParseTag(tag.TagStr()); ok {
			cand = &c
		}
	}
	pin, err := r.inspect(ctx, ref, im, fam, cand)
	if err != nil {
		return nil, err
	}
	if why := cs.VersionFailures(pinVersions(pin)); len(why) > 0 {
		return nil, fmt.Errorf("image %s does not satisfy [image]: %s", im.Ref, strings.Join(why, "; "))
	}
	pin.Image.Reference = im.Ref
	return pin, nil
}

// inspect fetches what the lock records of one image: its digest and
// media type, each requested platform's manifest and config digests, and
// the versions its tag and config report.
func (r *Resolver) inspect(ctx context.Context, ref name.Reference, im schema.Image, fam *family.Family, cand *family.Candidate) (*ImagePin, error) {
	desc, err := r.Registry.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	repo := ref.Context()
	pin := &ImagePin{Image: lock.Image{
		Repository: repo.Name(),
		Digest:     desc.Digest.String(),
		MediaType:  string(desc.MediaType),
	}}
	if t, ok := ref.(name.Tag); ok {
		pin.Image.Tag = t.TagStr()
	}
	if fam != nil {
		pin.Image.Family = fam.Name
	}
	platforms := slices.Sorted(slices.Values(im.Platforms))
	imgs, err := r.platformImages(ctx, repo, desc, platforms)
	if err != nil {
		return nil, err
	}
	// Every platform's config: what the runtime requires of the host
	// differs by platform (amd64 lists brand ranges, arm64 often not).
	configs := make([]*v1.ConfigFile, len(platforms))
	g, gctx := errgroup.WithContext(ctx)
	for i := range platforms {
		g.Go(func() (err error) {
			configs[i], err = r.Registry.Config(gctx, repo, imgs[i].config)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, p := range platforms {
		pl := lock.Platform{Platform: p, Digest: imgs[i].digest, Config: imgs[i].config.String()}
		pl.RequireCUDA, pl.RequireSource = family.RequireCUDA(configs[i])
		pin.Image.Platforms = append(pin.Image.Platforms, pl)
	}
	pin.Versions = family.ReadVersions(fam, cand, configs[0])
	return pin, nil
}

// platformImage is one platform's manifest digest and config digest.
type platformImage struct {
	digest string
	config v1.Hash
}

// platformImages finds the manifest of each platform: in an index, the
// matching child (fetched concurrently); a single manifest must match the
// one platform asked for.
func (r *Resolver) platformImages(ctx context.Context, repo name.Repository, desc *remote.Descriptor, platforms []string) ([]platformImage, error) {
	if !desc.MediaType.IsIndex() {
		return r.singleImage(ctx, desc, repo, platforms)
	}
	manifest, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, fmt.Errorf("%s@%s: read index: %w", repo, desc.Digest, err)
	}
	out := make([]platformImage, len(platforms))
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range platforms {
		child, err := findPlatform(manifest, p)
		if err != nil {
			if pe, ok := err.(*PlatformError); ok {
				pe.Ref = repo.Digest(desc.Digest.String()).String()
			}
			return nil, err
		}
		g.Go(func() error {
			d, err := r.Registry.Get(gctx, repo.Digest(child.Digest.String()))
			if err != nil {
				return err
			}
			m, err := v1.ParseManifest(bytes.NewReader(d.Manifest))
			if err != nil {
				return fmt.Errorf("%s@%s: read manifest: %w", repo, child.Digest, err)
			}
			out[i] = platformImage{digest: child.Digest.String(), config: m.Config.Digest}
			return nil
		})
	}
	return out, g.Wait()
}

func (r *Resolver) singleImage(ctx context.Context, desc *remote.Descriptor, repo name.Repository, platforms []string) ([]platformImage, error) {
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, fmt.Errorf("%s@%s: read manifest: %w", repo, desc.Digest, err)
	}
	cfg, err := r.Registry.Config(ctx, repo, m.Config.Digest)
	if err != nil {
		return nil, err
	}
	have := cfg.Platform()
	for _, p := range platforms {
		want, err := v1.ParsePlatform(p)
		if err != nil {
			return nil, err
		}
		if have == nil || !platformMatches(*have, *want) {
			return nil, &PlatformError{Ref: repo.Digest(desc.Digest.String()).String(), Want: p, Have: []string{platformString(have)}}
		}
	}
	return []platformImage{{digest: desc.Digest.String(), config: m.Config.Digest}}, nil
}

// PlatformError says an image lacks a platform the spec asks for.
type PlatformError struct {
	Ref  string
	Want string
	Have []string
}

func (e *PlatformError) Error() string {
	return fmt.Sprintf("%s has no %s image (it has: %s): remove %q from [image] platforms or choose another image",
		e.Ref, e.Want, strings.Join(e.Have, ", "), e.Want)
}

func findPlatform(m *v1.IndexManifest, want string) (v1.Descriptor, error) {
	wp, err := v1.ParsePlatform(want)
	if err != nil {
		return v1.Descriptor{}, err
	}
	var have []string
	for _, d := range m.Manifests {
		if d.Platform == nil || d.Platform.OS == "unknown" {
			continue // attestations
		}
		if platformMatches(*d.Platform, *wp) {
			return d, nil
		}
		have = append(have, platformString(d.Platform))
	}
	return v1.Descriptor{}, &PlatformError{Want: want, Have: have}
}

func platformMatches(have, want v1.Platform) bool {
	if have.OS != want.OS || have.Architecture != want.Architecture {
		return false
	}
	return want.Variant == "" || have.Variant == want.Variant || (want.Variant == "v8" && have.Variant == "")
}

func platformString(p *v1.Platform) string {
	if p == nil {
		return "unknown"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// pinVersions gives a pin's versions back as comparable values.
func pinVersions(p *ImagePin) map[family.Field]version.Version {
	out := map[family.Field]version.Version{}
	for f, raw := range map[family.Field]string{family.FieldFramework: p.Versions.FrameworkVersion, family.FieldCUDA: p.Versions.CUDA, family.FieldCuDNN: p.Versions.CuDNN} {
		if v, err := version.Parse(raw); err == nil {
			out[f] = v
		}
	}
	return out
}
