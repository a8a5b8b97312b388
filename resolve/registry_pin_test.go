package resolve_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/mlenv/mlenv/internal/registry"
	"github.com/mlenv/mlenv/schema"
)

// TestRequestsAreFewAndDeduplicated locks a runtime image for two
// platforms and checks each manifest and config is fetched once, always
// with the index media types in Accept.
func TestRequestsAreFewAndDeduplicated(t *testing.T) {
	reg := families(t)
	im := schema.Image{Family: "pytorch", Version: "~2.1", Variant: "runtime", Registry: reg.Host, Platforms: []string{"linux/amd64", "linux/arm64"}}
	if _, err := newResolver(t).Image(context.Background(), im, nil); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, q := range reg.Requests() {
		seen[q.Method+" "+q.Path]++
		if strings.Contains(q.Path, "/manifests/") && !strings.Contains(q.Accept, "application/vnd.oci.image.index.v1+json") {
			t.Errorf("%s %s sent Accept %q without the index media types", q.Method, q.Path, q.Accept)
		}
	}
	var heads, manifests, blobs int
	for k, n := range seen {
		if n > 1 && !strings.HasSuffix(k, "/v2/") {
			t.Errorf("%s requested %d times", k, n)
		}
		switch {
		case strings.HasPrefix(k, "HEAD ") && strings.Contains(k, "/manifests/"):
			heads++
		case strings.Contains(k, "/manifests/"):
			manifests++
			if !strings.Contains(k, "/manifests/sha256:") {
				t.Errorf("%s: manifests are fetched by digest, after a HEAD of the tag", k)
			}
		case strings.Contains(k, "/blobs/"):
			blobs++
		}
	}
	// a HEAD of the tag; the index, two platform manifests and each
	// platform's config by digest (what the NVIDIA runtime requires of the
	// host differs by platform)
	if heads != 1 || manifests != 3 || blobs != 2 {
		t.Errorf("%d HEADs, %d manifest and %d blob GETs, want 1, 3 and 2: %v", heads, manifests, blobs, seen)
	}
}

func TestMissingDigestHeaderFallsBackToBodyHash(t *testing.T) {
	reg := families(t)
	reg.Wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		next.ServeHTTP(stripDigest{w}, r)
	}
	defer func() { reg.Wrap = nil }()
	want, err := newResolver(t).Registry.Get(context.Background(), mustRef(t, reg.Host+"/nvidia/cuda:12.6.3-runtime-ubuntu24.04"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := newResolver(t).Registry.Head(context.Background(), mustRef(t, reg.Host+"/nvidia/cuda:12.6.3-runtime-ubuntu24.04"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest != want.Digest {
		t.Errorf("digest without header = %s, want %s", d.Digest, want.Digest)
	}
}

type stripDigest struct{ http.ResponseWriter }

func (s stripDigest) WriteHeader(code int) {
	s.Header().Del("Docker-Content-Digest")
	s.ResponseWriter.WriteHeader(code)
}

func (s stripDigest) Write(b []byte) (int, error) {
	s.Header().Del("Docker-Content-Digest")
	return s.ResponseWriter.Write(b)
}

func TestRetriesHonourRetryAfter(t *testing.T) {
	reg := families(t)
	var manifestFailures, listFailures atomic.Int32
	reg.Wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if strings.Contains(r.URL.Path, "/manifests/") && manifestFailures.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/tags/list") && listFailures.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	}
	defer func() { reg.Wrap = nil }()
	im := schema.Image{Family: "cuda", Version: "~12.6", CuDNN: "none", Registry: reg.Host, Platforms: []string{"linux/amd64"}}
	pin, err := newResolver(t).Image(context.Background(), im, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pin.Image.Tag != "12.6.3-runtime-ubuntu24.04" {
		t.Errorf("tag = %s", pin.Image.Tag)
	}
}

func TestRateLimitGivesUp(t *testing.T) {
	reg := families(t)
	reg.Wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		w.WriteHeader(http.StatusTooManyRequests)
	}
	defer func() { reg.Wrap = nil }()
	im := schema.Image{Family: "cuda", Registry: reg.Host, Platforms: []string{"linux/amd64"}}
	_, err := newResolver(t).Image(context.Background(), im, nil)
	if !kindIs(registry.KindRateLimited)(err) || !strings.Contains(err.Error(), "rate limiting") {
		t.Errorf("err = %v, want a rate-limit error", err)
	}
}

func TestUnauthorizedSaysHowToLogIn(t *testing.T) {
	reg := families(t)
	reg.Wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
	}
	defer func() { reg.Wrap = nil }()
	im := schema.Image{Family: "cuda", Registry: reg.Host, Platforms: []string{"linux/amd64"}}
	_, err := newResolver(t).Image(context.Background(), im, nil)
	if !kindIs(registry.KindUnauthorized)(err) || !strings.Contains(err.Error(), "docker login "+reg.Host) {
		t.Errorf("err = %v, want an unauthorized error naming docker login", err)
	}
}

func TestUnreachableRegistry(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	im := schema.Image{Family: "cuda", Registry: host, Platforms: []string{"linux/amd64"}}
	_, err = newResolver(t).Image(context.Background(), im, nil)
	if !kindIs(registry.KindUnreachable)(err) || !strings.Contains(err.Error(), "cannot reach registry "+host) {
		t.Errorf("err = %v, want an unreachable error", err)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestNGCReadsConfigsNewestFirstAndStops: NGC tags say nothing about
// versions, so configs are read newest release first, a few at a time,
// and reading stops once a window holds a match.
func TestNGCReadsConfigsNewestFirstAndStops(t *testing.T) {
	reg := families(t)
	im := schema.Image{Family: "ngc-pytorch", Version: "~2.3", Registry: reg.Host, Platforms: []string{"linux/amd64"}}
	pin, err := newResolver(t).Image(context.Background(), im, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pin.Image.Tag != "24.04-py3" {
		t.Errorf("tag = %s, want the newest release with PyTorch 2.3", pin.Image.Tag)
	}
	configs := 0
	for _, q := range reg.Requests() {
		if strings.Contains(q.Path, "/blobs/") {
			configs++
		}
	}
	// 24.06 and 24.05 (dgpu, igpu) are 2.4; the first window of 4 holds
	// 24.04, the match: 4 configs, not all 10.
	if configs != 4 {
		t.Errorf("read %d configs, want 4 (one window)", configs)
	}
}
