package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/registrytest"
)

var (
	faultOnce     sync.Once
	faultUpstream string
)

// faultRegistry returns a fault proxy in front of Debian's docker-registry
// holding two PyTorch runtime images (linux/amd64 + linux/arm64 indexes).
func faultRegistry(t *testing.T) *registrytest.FaultProxy {
	t.Helper()
	host := enginetest.Registry(t)
	faultOnce.Do(func() {
		r := registrytest.Remote(t, host)
		for _, tag := range []string{"2.1.0-cuda12.1-cudnn8-runtime", "2.1.2-cuda12.1-cudnn8-runtime"} {
			r.PushIndex(registrytest.PyTorch, tag, registrytest.Image{Env: []string{"PYTORCH_VERSION=" + tag[:5]}}, "linux/amd64", "linux/arm64")
		}
		faultUpstream = host
	})
	return registrytest.NewFaultProxy(t, faultUpstream)
}

const faultSpec = "[image]\nfamily = \"pytorch\"\nversion = \"~2.1\"\nregistry = \"{{host}}\"\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n"

func faultProject(t *testing.T, host string) string {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "mlenv.toml"), strings.ReplaceAll(faultSpec, "{{host}}", host))
	return dir
}

// TestRegistryFaults: each fault during `mlenv lock` ends either in the
// same lock as without faults, or in a clear error with the old lock
// byte for byte as it was.
func TestRegistryFaults(t *testing.T) {
	proxy := faultRegistry(t)
	clean := faultProject(t, proxy.Host)
	mustLock(t, clean)
	want := readFile(t, filepath.Join(clean, "mlenv.lock"))

	once := func(kind string, n int32, answer func(w http.ResponseWriter, r *http.Request, up http.Handler)) func(http.ResponseWriter, *http.Request, http.Handler) bool {
		var seen atomic.Int32
		return func(w http.ResponseWriter, r *http.Request, up http.Handler) bool {
			if registrytest.Is(r, kind) && seen.Add(1) <= n {
				answer(w, r, up)
				return true
			}
			return false
		}
	}
	status := func(code int, retryAfter string) func(http.ResponseWriter, *http.Request, http.Handler) {
		return func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(code)
		}
	}
	recovers := []struct {
		name  string
		fault func(http.ResponseWriter, *http.Request, http.Handler) bool
	}{
		{"500s", once("manifest", 2, status(http.StatusInternalServerError, ""))},
		{"429 with Retry-After", once("tags", 1, status(http.StatusTooManyRequests, "1"))},
		{"connection reset", once("manifest", 1, func(w http.ResponseWriter, _ *http.Request, _ http.Handler) { registrytest.Reset(w) })},
		{"truncated body", once("blob", 1, registrytest.Truncate)},
		{"altered manifest, twice", once("manifest", 2, func(w http.ResponseWriter, r *http.Request, up http.Handler) {
			if r.Method == http.MethodGet {
				registrytest.Alter(w, r, up)
				return
			}
			up.ServeHTTP(w, r)
		})},
	}
	for _, tc := range recovers {
		t.Run(tc.name, func(t *testing.T) {
			proxy.Inject(tc.fault)
			defer proxy.Inject(nil)
			dir := faultProject(t, proxy.Host)
			start := time.Now()
			if r := mlenv(t, dir, "lock"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if got := readFile(t, filepath.Join(dir, "mlenv.lock")); got != want {
				t.Errorf("the lock differs from the one without faults:\n%s", got)
			}
			if tc.name == "429 with Retry-After" && time.Since(start) < time.Second {
				t.Errorf("Retry-After: 1 was not honoured (took %v)", time.Since(start))
			}
		})
	}

	fails := []struct {
		name  string
		fault func(http.ResponseWriter, *http.Request, http.Handler) bool
		args  []string
		want  string
	}{
		{"500s persist", once("manifest", 1000, status(http.StatusServiceUnavailable, "")), nil, "Service Unavailable"},
		{"slow past the timeout", once("manifest", 1000, func(w http.ResponseWriter, r *http.Request, up http.Handler) {
			time.Sleep(400 * time.Millisecond)
			up.ServeHTTP(w, r)
		}), []string{"--registry-timeout", "100ms"}, "did not answer in time"},
		{"content does not match its digest", once("manifest", 1000, func(w http.ResponseWriter, r *http.Request, up http.Handler) {
			if r.Method == http.MethodGet {
				registrytest.Alter(w, r, up)
				return
			}
			up.ServeHTTP(w, r)
		}), nil, "does not match its digest"},
	}
	for _, tc := range fails {
		t.Run(tc.name, func(t *testing.T) {
			dir := faultProject(t, proxy.Host)
			mustLock(t, dir)
			spec := filepath.Join(dir, "mlenv.toml")
			writeFile(t, spec, strings.Replace(readFile(t, spec), "~2.1", "2.1.0", 1))
			proxy.Inject(tc.fault)
			defer proxy.Inject(nil)
			r := mlenv(t, dir, append(tc.args, "lock")...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want 1 saying %q:\n%s", r.code, tc.want, r.stderr)
			}
			if got := readFile(t, filepath.Join(dir, "mlenv.lock")); got != want {
				t.Error("a failed lock changed mlenv.lock")
			}
		})
	}
}
