package lock

import (
	"fmt"
	"net/url"
	"regexp"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/mlenv/mlenv/internal/redact"
	"github.com/mlenv/mlenv/schema"
)

// The grammars of the lock's fields. A lock is checked against them when
// it is read and when it is written, so that no field can carry a line
// break, a pip option or anything else into a requirements file, a
// command line or an image (a forged lock with a recomputed [integrity]
// included: the integrity digest is unkeyed).
var (
	digestRe     = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	pkgNameRe    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`) // PEP 508
	versionRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+!_-]*$`)             // PEP 440, local labels too
	tagRe        = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	mediaTypeRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+/-]*$`)
	wordRe       = regexp.MustCompile(`^[A-Za-z0-9._+:~-]*$`)    // versions and their sources
	requireRe    = regexp.MustCompile(`^[A-Za-z0-9 ,.=<>!_-]*$`) // NVIDIA_REQUIRE_CUDA
	archRe       = regexp.MustCompile(`^(sm|compute)_[0-9]+a?$`)
	executableRe = regexp.MustCompile(`^(/[A-Za-z0-9._+-]+)+$`)
)

func (im Image) check() error {
	if _, err := name.NewRepository(im.Repository); err != nil || im.Repository == "" {
		return fmt.Errorf("image.repository %q is not a repository", im.Repository)
	}
	if im.Reference != "" && !schema.Plain(im.Reference) {
		return fmt.Errorf("image.reference %q holds whitespace or control characters", im.Reference)
	}
	if im.Tag != "" && !tagRe.MatchString(im.Tag) {
		return fmt.Errorf("image.tag %q is not a tag", im.Tag)
	}
	if !digestRe.MatchString(im.Digest) {
		return fmt.Errorf("image.digest %q is not a sha256 digest", im.Digest)
	}
	if im.MediaType != "" && !mediaTypeRe.MatchString(im.MediaType) {
		return fmt.Errorf("image.media-type %q is not a media type", im.MediaType)
	}
	if !wordRe.MatchString(im.Family) {
		return fmt.Errorf("image.family %q is not a family name", im.Family)
	}
	if im.EnvLayout != LayoutOneLayer && im.EnvLayout != LayoutLayers {
		return fmt.Errorf("image.env-layout %q is not a layout this mlenv knows (%q): a newer mlenv wrote it; upgrade mlenv, or run `mlenv lock --upgrade` to lock again with this one", im.EnvLayout, LayoutLayers)
	}
	if len(im.Platforms) == 0 {
		return fmt.Errorf("no [[image.platform]] entry")
	}
	for _, p := range im.Platforms {
		if !schema.ValidPlatform(p.Platform) {
			return fmt.Errorf("image.platform %q is not os/arch[/variant]", p.Platform)
		}
		if !digestRe.MatchString(p.Digest) || !digestRe.MatchString(p.Config) {
			return fmt.Errorf("image.platform %s: digest or config is not a sha256 digest", p.Platform)
		}
		if (p.EnvDigest != "" && !digestRe.MatchString(p.EnvDigest)) || (p.EnvConfig != "" && !digestRe.MatchString(p.EnvConfig)) {
			return fmt.Errorf("image.platform %s: env or env-config is not a sha256 digest", p.Platform)
		}
		if !requireRe.MatchString(p.RequireCUDA) || !wordRe.MatchString(p.RequireSource) {
			return fmt.Errorf("image.platform %s: require-cuda %q is not an NVIDIA_REQUIRE_CUDA", p.Platform, p.RequireCUDA)
		}
	}
	return nil
}

func (v Versions) check() error {
	for _, f := range []string{v.Framework, v.FrameworkVersion, v.CUDA, v.CuDNN, v.Python, v.MinDriver, v.FrameworkCUDA, v.FrameworkCuDNN} {
		if !wordRe.MatchString(f) {
			return fmt.Errorf("[versions]: %q is not a version", f)
		}
	}
	if v.PythonExecutable != "" && !executableRe.MatchString(v.PythonExecutable) {
		return fmt.Errorf("[versions] python-executable: %q is not an absolute path", v.PythonExecutable)
	}
	for _, a := range v.CUDAArchs {
		if !archRe.MatchString(a) {
			return fmt.Errorf("[versions] cuda-archs: %q is not an arch like sm_90 or compute_90", a)
		}
	}
	for k, s := range v.Sources {
		if !wordRe.MatchString(k) || !wordRe.MatchString(s) {
			return fmt.Errorf("[versions] sources: %q = %q is not a source", k, s)
		}
	}
	return nil
}

func (p Package) check() error {
	if p.Name == "" || p.Version == "" || len(p.Hashes) == 0 {
		return fmt.Errorf("package %q: name, version and hashes are required", p.Name)
	}
	if !pkgNameRe.MatchString(p.Name) || !versionRe.MatchString(p.Version) {
		return fmt.Errorf("package %q version %q: not a valid name and version", p.Name, p.Version)
	}
	for _, h := range p.Hashes {
		if !digestRe.MatchString(h) {
			return fmt.Errorf("package %s: hash %q is not a sha256 digest", p.Name, h)
		}
	}
	if p.Index != "" {
		if err := checkURL(p.Index); err != nil {
			return fmt.Errorf("package %s: index: %w", p.Name, err)
		}
	}
	if p.URL != "" {
		if err := checkURL(p.URL); err != nil {
			return fmt.Errorf("package %s: url: %w", p.Name, err)
		}
	}
	if p.Replaces != "" && !versionRe.MatchString(p.Replaces) {
		return fmt.Errorf("package %s: replaces %q is not a version", p.Name, p.Replaces)
	}
	for _, pl := range p.Platforms {
		if !schema.ValidPlatform(pl) {
			return fmt.Errorf("package %s: platform %q is not os/arch[/variant]", p.Name, pl)
		}
	}
	return nil
}

// checkURL is schema.CheckURL, and a lock holds no credentials.
func checkURL(raw string) error {
	if err := schema.CheckURL(raw); err != nil {
		return err
	}
	if u, _ := url.Parse(raw); u.User != nil {
		return fmt.Errorf("%q holds credentials", redact.URL(raw))
	}
	return nil
}
