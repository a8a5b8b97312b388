package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
	"github.com/mlenv/mlenv/runner"
)

const testToken = "s3cret-index-token"

// privateIndex is an index that refuses requests without alice's token.
func privateIndex(t *testing.T) *pypitest.Index {
	idx := pypitest.New(t, testWheels...)
	idx.User, idx.Password = "alice", testToken
	return idx
}

// watchArgv polls every process's argv on the host until stop is called,
// and reports whether any held secret.
func watchArgv(t *testing.T, secret string) (stop func() bool) {
	var seen atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			out, _ := exec.Command("ps", "-eo", "args").Output()
			if strings.Contains(string(out), secret) {
				seen.Store(true)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return func() bool { cancel(); <-done; return seen.Load() }
}

// TestPrivateIndexFromEnvironment: index credentials written as ${VAR}s
// in index-url lock, run, verify --deep and vendor; the secret reaches no
// lock, image, image history, log, argv on the host or container left
// behind.
func TestPrivateIndexFromEnvironment(t *testing.T) {
	idx := privateIndex(t)
	t.Setenv("NETRC", filepath.Join(t.TempDir(), "none"))
	t.Setenv("MLENV_TEST_INDEX_USER", "alice")
	t.Setenv("MLENV_TEST_INDEX_TOKEN", testToken)
	url := strings.Replace(idx.URL, "http://", "http://${MLENV_TEST_INDEX_USER}:${MLENV_TEST_INDEX_TOKEN}@", 1)
	dir := pipProject(t, pythonRef(t), fmt.Sprintf("[pip]\npackages = [\"beta\"]\nindex-url = %q\n[run]\ngpus = \"none\"\n", url))
	stop := watchArgv(t, testToken)
	var outputs []string
	for _, args := range [][]string{{"lock"}, {"run", "--", "python3", "-c", "import alpha, beta; print(beta.__version__)"}, {"verify", "--deep"}, {"vendor", filepath.Join(t.TempDir(), "archive")}} {
		r := mlenv(t, dir, args...)
		if r.code != 0 {
			t.Fatalf("mlenv %v: exit %d\n%s", args, r.code, r.stderr)
		}
		outputs = append(outputs, r.stdout, r.stderr)
	}
	if !strings.Contains(strings.Join(outputs, "\n"), "ok   package sources: indexes "+idx.URL+"\n") {
		t.Errorf("verify does not show the index the packages come from:\n%s", strings.Join(outputs, "\n"))
	}
	if stop() {
		t.Error("the index token showed in a process's argv on the host")
	}
	if idx.Downloads()["beta-1.0-py3-none-any.whl"] == 0 {
		t.Fatal("nothing was downloaded from the private index")
	}
	envImage := strings.TrimSpace(enginetest.Docker(t, nil, "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "label=dev.mlenv.env", "--filter", "reference="+runner.EnvImagePrefix))
	for what, text := range map[string]string{
		"the lock":      readFile(t, filepath.Join(dir, "mlenv.lock")),
		"the output":    strings.Join(outputs, "\n"),
		"the images":    enginetest.Docker(t, nil, "image", "inspect", strings.Fields(envImage)[0]),
		"their history": enginetest.Docker(t, nil, "history", "--no-trunc", strings.Fields(envImage)[0]),
		"containers":    enginetest.Docker(t, nil, "ps", "-a", "--no-trunc"),
	} {
		if strings.Contains(text, testToken) {
			t.Errorf("the index token is in %s", what)
		}
	}
	if !strings.Contains(readFile(t, filepath.Join(dir, "mlenv.lock")), `index = "`+idx.URL+`"`) {
		t.Error("the lock does not record the index without credentials")
	}
	// Without the variables a cold build (on a machine without the files)
	// says which one to export.
	os.Unsetenv("MLENV_TEST_INDEX_TOKEN")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	r := mlenv(t, dir, "run", "--rebuild", "--", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "${MLENV_TEST_INDEX_TOKEN}, which is not set") {
		t.Errorf("cold run without the token: exit %d: %s", r.code, r.stderr)
	}
}

// TestPrivateIndexFromNetrc: credentials in a netrc file (NETRC, as pip
// and curl read it) work for lock and run; none at all is an error that
// says "authentication" and how to supply it.
func TestPrivateIndexFromNetrc(t *testing.T) {
	idx := privateIndex(t)
	netrc := filepath.Join(t.TempDir(), "netrc")
	writeFile(t, netrc, "machine 127.0.0.1 login alice password "+testToken+"\n")
	t.Setenv("NETRC", netrc)
	dir := pipProject(t, pythonRef(t), fmt.Sprintf("[pip]\npackages = [\"beta\"]\nindex-url = %q\n[run]\ngpus = \"none\"\n", idx.URL))
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatalf("lock: %s", r.stderr)
	}
	if r := mlenv(t, dir, "run", "--", "python3", "-c", "import beta"); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	t.Setenv("NETRC", filepath.Join(t.TempDir(), "none"))
	other := pipProject(t, pythonRef(t), fmt.Sprintf("[pip]\npackages = [\"alpha\"]\nindex-url = %q\n", idx.URL))
	r := mlenv(t, other, "lock")
	if r.code != 1 || !strings.Contains(r.stderr, "asked for authentication") || !strings.Contains(r.stderr, "~/.netrc") {
		t.Errorf("no credentials: exit %d: %s", r.code, r.stderr)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // a machine without the files
	if r := mlenv(t, dir, "run", "--rebuild", "--", "true"); r.code != 125 || !strings.Contains(r.stderr, "asked for authentication") {
		t.Errorf("install without credentials: exit %d: %s", r.code, r.stderr)
	}
}

// TestCredentialsStayWithTheirOrigin: an index that answers every request
// with a redirect to another port of the same host gets the credentials;
// the other port (here a mirror that serves the packages) never does,
// from pip (lock) or from mlenv's own downloads (run on a machine without
// the files).
func TestCredentialsStayWithTheirOrigin(t *testing.T) {
	public := pypitest.New(t, testWheels...)
	target, _ := url.Parse(public.URL)
	var leaked atomic.Value
	leaked.Store("")
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			leaked.Store(r.URL.Path + ": " + a)
		}
		httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host}).ServeHTTP(w, r)
	}))
	defer thief.Close()
	var asked atomic.Int32
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != testToken {
			w.Header().Set("WWW-Authenticate", `Basic realm="index"`)
			http.Error(w, "401", http.StatusUnauthorized)
			return
		}
		asked.Add(1)
		http.Redirect(w, r, thief.URL+r.URL.Path, http.StatusFound)
	}))
	defer redirecting.Close()
	t.Setenv("NETRC", filepath.Join(t.TempDir(), "none"))
	t.Setenv("MLENV_TEST_INDEX_TOKEN", testToken)
	index := strings.Replace(redirecting.URL, "http://", "http://alice:${MLENV_TEST_INDEX_TOKEN}@", 1) + strings.TrimPrefix(public.URL, "http://"+target.Host)
	dir := pipProject(t, pythonRef(t), fmt.Sprintf("[pip]\npackages = [\"beta\"]\nindex-url = %q\n[run]\ngpus = \"none\"\n", index))
	r := mlenv(t, dir, "lock")
	if asked.Load() == 0 {
		t.Fatalf("pip never asked the index with its credentials (exit %d):\n%s", r.code, r.stderr)
	}
	if r.code != 0 {
		t.Fatalf("lock through the redirect: exit %d\n%s", r.code, r.stderr)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // mlenv downloads the files itself
	if r := mlenv(t, dir, "run", "--", "true"); r.code != 0 {
		t.Errorf("run: exit %d\n%s", r.code, r.stderr)
	}
	if l := leaked.Load().(string); l != "" {
		t.Errorf("the other port got the index's credentials: %s", l)
	}
}
