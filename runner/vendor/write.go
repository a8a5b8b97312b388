// Package vendor writes and reads mlenv's archive of an environment: the
// locked image of every platform as an OCI image layout, the locked wheels
// checked against their hashes, and the project's files, so that a paper's
// environment can be restored with no registry and no index.
package vendor

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/resolve/registry"
	"github.com/mlenv/mlenv/runner/indexauth"
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

// Write saves the locked image (every locked platform) and the locked
// wheels into dir, with the project's mlenv.toml, mlenv.lock and
// requirements file (at its path relative to mlenv.toml), so that the
// archive alone reruns the environment, with no registry, no index and no
// project: `mlenv run --from DIR` from any directory.
func Write(ctx context.Context, reg *registry.Registry, auth *indexauth.Auth, p *lock.Project, l *lock.Lock, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeImage(ctx, reg, l, filepath.Join(dir, ImageDir)); err != nil {
		return err
	}
	if err := writeWheels(ctx, reg, auth, l, filepath.Join(dir, WheelsDir)); err != nil {
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

func writeImage(ctx context.Context, reg *registry.Registry, l *lock.Lock, dir string) error {
	repo, err := name.NewRepository(l.Image.Repository)
	if err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	for _, pl := range l.Image.Platforms {
		desc, err := reg.Get(ctx, repo.Digest(pl.Digest))
		if err != nil {
			return err
		}
		img, err := desc.Image()
		if err != nil {
			return fmt.Errorf("%s: %w", repo.Digest(pl.Digest), err)
		}
		plat, err := v1.ParsePlatform(pl.Platform)
		if err != nil {
			return err
		}
		err = p.AppendImage(img, layout.WithPlatform(*plat), layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": l.Image.ByDigest(),
			AnnotationPlatform:                  pl.Platform,
		}))
		if err != nil {
			return fmt.Errorf("save %s (%s): %w", repo.Digest(pl.Digest), pl.Platform, registry.Classify(err, repo.Digest(pl.Digest).String()))
		}
	}
	return nil
}

// writeWheels downloads every locked file and checks its hash.
func writeWheels(ctx context.Context, reg *registry.Registry, auth *indexauth.Auth, l *lock.Lock, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	client := reg.HTTPClient()
	client.Transport = auth.Transport(client.Transport)
	for _, p := range l.Packages {
		fileURL := p.URL
		if fileURL == "" {
			var err error
			if fileURL, err = findFile(ctx, client, p); err != nil {
				return err
			}
		}
		if err := download(ctx, client, fileURL, dir, p.Hashes); err != nil {
			return fmt.Errorf("%s %s: %w", p.Name, p.Version, err)
		}
	}
	return nil
}

func download(ctx context.Context, client *http.Client, fileURL, dir string, hashes []string) error {
	u, err := url.Parse(fileURL)
	if err != nil {
		return err
	}
	dest := filepath.Join(dir, path.Base(u.Path))
	if ok, _ := hashMatches(dest, hashes); ok {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fileURL, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", schema.RedactURL(fileURL), err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("download %s: %s: %s", schema.RedactURL(fileURL), resp.Status, indexauth.Hint)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("download %s: %s", schema.RedactURL(fileURL), resp.Status)
	}
	tmp, err := os.CreateTemp(dir, ".download-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), resp.Body); err != nil {
		tmp.Close()
		return fmt.Errorf("download %s: %w", schema.RedactURL(fileURL), err)
	}
	tmp.Close()
	got := fmt.Sprintf("sha256:%x", h.Sum(nil))
	if !slices.Contains(hashes, got) {
		return fmt.Errorf("%s has %s, which is not a locked hash (%s): the index serves another file than was locked", schema.RedactURL(fileURL), got, strings.Join(hashes, ", "))
	}
	return os.Rename(tmp.Name(), dest)
}

func hashMatches(path string, hashes []string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return slices.Contains(hashes, fmt.Sprintf("sha256:%x", h.Sum(nil))), nil
}

var linkRe = regexp.MustCompile(`href="([^"]+)"`)

// findFile looks up a locked package's file on its index's simple page
// (locks written with pip older than 22.2 have no URL): the link whose
// hash fragment is a locked hash.
func findFile(ctx context.Context, client *http.Client, p lock.Package) (string, error) {
	page := strings.TrimSuffix(p.Index, "/") + "/" + lock.NormalizeName(p.Name) + "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, page, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: %w", schema.RedactURL(page), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return "", err
	}
	base, _ := url.Parse(page)
	for _, m := range linkRe.FindAllStringSubmatch(string(body), -1) {
		href, err := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
		if err != nil {
			continue
		}
		if frag := href.Fragment; strings.HasPrefix(frag, "sha256=") && slices.Contains(p.Hashes, "sha256:"+strings.TrimPrefix(frag, "sha256=")) {
			href.Fragment = ""
			return base.ResolveReference(href).String(), nil
		}
	}
	return "", fmt.Errorf("%s %s: no file with a locked hash on %s", p.Name, p.Version, schema.RedactURL(page))
}
