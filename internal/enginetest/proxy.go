package enginetest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// Meter is a registry seen through a proxy that counts the blob bytes
// sent to it (pushes) and read from it (pulls): what a change costs on
// the wire.
type Meter struct {
	Host               string // the proxy's host:port, a loopback registry to engines
	uploaded, download atomic.Int64
}

// Uploaded is the bytes of blob uploads so far.
func (m *Meter) Uploaded() int64 { return m.uploaded.Load() }

// Downloaded is the bytes of blobs served so far.
func (m *Meter) Downloaded() int64 { return m.download.Load() }

// Reset starts counting again.
func (m *Meter) Reset() { m.uploaded.Store(0); m.download.Store(0) }

// NewMeter proxies the registry at host (host:port), counting.
func NewMeter(t testing.TB, host string) *Meter {
	t.Helper()
	target, err := url.Parse("http://" + host)
	if err != nil {
		t.Fatal(err)
	}
	m := &Meter{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		if r.Request.Method == http.MethodGet && strings.Contains(r.Request.URL.Path, "/blobs/") {
			r.Body = counted{r.Body, &m.download}
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && (r.Method == http.MethodPut || r.Method == http.MethodPatch || r.Method == http.MethodPost) && strings.Contains(r.URL.Path, "/blobs/") {
			r.Body = counted{r.Body, &m.uploaded}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	m.Host = strings.TrimPrefix(srv.URL, "http://")
	return m
}

type counted struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c counted) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}
