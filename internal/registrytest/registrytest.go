// Package registrytest serves in-process registries holding images shaped
// like the real families' (their tags, config env vars and labels,
// multi-platform indexes), built deterministically so that their digests,
// and the locks made from them, are the same on every run.
package registrytest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Registry is an in-process registry on a loopback port.
type Registry struct {
	t      testing.TB
	Server *httptest.Server
	Host   string // host:port

	mu       sync.Mutex
	requests []Request
	// Wrap, when set, sees every request before the registry does.
	Wrap func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

// Request is one request the registry received.
type Request struct {
	Method, Path, Accept string
}

// New starts a registry that is closed when the test ends.
func New(t testing.TB) *Registry {
	t.Helper()
	r := &Registry{t: t}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests = append(r.requests, Request{req.Method, req.URL.Path, req.Header.Get("Accept")})
		wrap := r.Wrap
		r.mu.Unlock()
		if wrap != nil {
			wrap(w, req, inner)
			return
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Server.Close)
	r.Host = strings.TrimPrefix(r.Server.URL, "http://")
	return r
}

// Remote is a Registry for pushing fixtures to a registry running
// elsewhere (Debian's docker-registry); it records no requests.
func Remote(t testing.TB, host string) *Registry {
	return &Registry{t: t, Host: host}
}

// Requests returns the requests received so far and forgets them.
func (r *Registry) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.requests
	r.requests = nil
	return out
}

// Image is a deterministic image description.
type Image struct {
	Env      []string
	Labels   map[string]string
	Platform string // os/arch[/variant]; default linux/amd64
}

// Build makes the image: one small layer whose content names it, and a
// config with the env, labels and platform given.
func (im Image) Build(t testing.TB, seed string) v1.Image {
	t.Helper()
	plat := im.Platform
	if plat == "" {
		plat = "linux/amd64"
	}
	p, err := v1.ParsePlatform(plat)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer([]byte(seed+"|"+plat), types.DockerLayer))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, im.Env...)
	cf.Config.Labels = im.Labels
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Push writes img to repo:tag.
func (r *Registry) Push(repo, tag string, img v1.Image) v1.Hash {
	r.t.Helper()
	ref, err := name.NewTag(r.Host + "/" + repo + ":" + tag)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		r.t.Fatalf("push %s: %v", ref, err)
	}
	d, _ := img.Digest()
	return d
}

// PushIndex writes a multi-platform index of one image per platform, each
// with the same env and labels, to repo:tag.
func (r *Registry) PushIndex(repo, tag string, base Image, platforms ...string) v1.Hash {
	r.t.Helper()
	images := make([]Image, len(platforms))
	for i, plat := range platforms {
		images[i] = base
		images[i].Platform = plat
	}
	return r.PushImages(repo, tag, images...)
}

// PushImages pushes an index of images, each for its own platform and
// with its own config (NVIDIA's images differ by platform).
func (r *Registry) PushImages(repo, tag string, images ...Image) v1.Hash {
	r.t.Helper()
	var idx v1.ImageIndex = empty.Index
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	for _, im := range images {
		img := im.Build(r.t, repo+":"+tag)
		p, _ := v1.ParsePlatform(im.Platform)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
	}
	ref, err := name.NewTag(r.Host + "/" + repo + ":" + tag)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		r.t.Fatalf("push %s: %v", ref, err)
	}
	d, _ := idx.Digest()
	return d
}

// Tag points repo:tag at what repo:from points at.
func (r *Registry) Tag(repo, from, tag string) {
	r.t.Helper()
	src, _ := name.NewTag(r.Host + "/" + repo + ":" + from)
	dst, _ := name.NewTag(r.Host + "/" + repo + ":" + tag)
	d, err := remote.Get(src)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := remote.Tag(dst, d); err != nil {
		r.t.Fatal(err)
	}
}

// NormalizeLock writes the registry's random address as {{registry}} and
// masks the hashes that depend on it (the address is part of [image], so
// of the input hash and the integrity digests over them).
func NormalizeLock(text, host string) string {
	lines := strings.Split(strings.ReplaceAll(text, host, "{{registry}}"), "\n")
	table := ""
	for i, l := range lines {
		if strings.HasPrefix(l, "[") {
			table = l
		}
		hostDependent := (table == "[inputs]" && strings.HasPrefix(l, "image = ")) ||
			(table == "[integrity]" && (strings.HasPrefix(l, "image = ") || strings.HasPrefix(l, "run = ")))
		if strings.HasPrefix(l, "input-hash = ") || hostDependent {
			lines[i] = l[:strings.Index(l, "=")+1] + " \"{{hash}}\""
		}
	}
	return strings.Join(lines, "\n")
}
