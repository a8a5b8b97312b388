package registrytest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// FaultProxy is a reverse proxy in front of a real registry that injects
// the faults a healthy registry cannot be made to show: errors, resets,
// truncated and altered bodies, slowness.
type FaultProxy struct {
	Host string // host:port to point mlenv at

	mu    sync.Mutex
	fault func(w http.ResponseWriter, r *http.Request, upstream http.Handler) bool
	count map[string]int
}

// NewFaultProxy proxies to the registry at upstream (host:port).
func NewFaultProxy(t testing.TB, upstream string) *FaultProxy {
	t.Helper()
	u, _ := url.Parse("http://" + upstream)
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &FaultProxy{count: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		fault := p.fault
		p.count[kindOf(r)]++
		p.mu.Unlock()
		if fault != nil && fault(w, r, rp) {
			return
		}
		rp.ServeHTTP(w, r)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	p.Host = l.Addr().String()
	return p
}

// Inject sets the fault: it returns true when it answered the request
// itself, false to pass it on. nil heals the proxy.
func (p *FaultProxy) Inject(f func(w http.ResponseWriter, r *http.Request, upstream http.Handler) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
	p.count = map[string]int{}
}

// Count is how many requests of a kind ("tags", "manifest", "blob",
// "ping") arrived since the last Inject.
func (p *FaultProxy) Count(kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count[kind]
}

func kindOf(r *http.Request) string {
	switch {
	case strings.HasSuffix(r.URL.Path, "/tags/list"):
		return "tags"
	case strings.Contains(r.URL.Path, "/manifests/"):
		return "manifest"
	case strings.Contains(r.URL.Path, "/blobs/"):
		return "blob"
	}
	return "ping"
}

// Is reports whether r is of kind (see Count).
func Is(r *http.Request, kind string) bool { return kindOf(r) == kind }

// Reset drops the connection without an answer.
func Reset(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // RST, not FIN
			}
			conn.Close()
		}
	}
}

// Truncate answers with the upstream's headers (its full Content-Length)
// and only the first half of its body.
func Truncate(w http.ResponseWriter, r *http.Request, upstream http.Handler) {
	rec := httptest.NewRecorder()
	upstream.ServeHTTP(rec, r)
	copyHeaders(w, rec)
	body := rec.Body.Bytes()
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	w.Write(body[:len(body)/2])
}

// Alter answers with the upstream's body changed by one byte (and the
// upstream's digest header), as a broken mirror might.
func Alter(w http.ResponseWriter, r *http.Request, upstream http.Handler) {
	rec := httptest.NewRecorder()
	upstream.ServeHTTP(rec, r)
	copyHeaders(w, rec)
	body := append(rec.Body.Bytes(), ' ')
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	w.Write(body)
}

func copyHeaders(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, vs := range rec.Header() {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
}
