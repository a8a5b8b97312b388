package indexauth

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestIndexLines: each index gets its own credentials (its URL's, else
// the netrc's for its host), with an explicit port so that pip sends
// them to that origin only; an unset ${VAR} is an error once needed.
func TestIndexLines(t *testing.T) {
	dir := t.TempDir()
	netrc := filepath.Join(dir, "netrc")
	os.WriteFile(netrc, []byte("machine files.example login bob password from-netrc\ndefault login anon password x\nmachine idx.example\n  login old password stale\n"), 0o600)
	t.Setenv("NETRC", netrc)
	t.Setenv("IDX_USER", "alice")
	t.Setenv("IDX_TOKEN", "t0k/en@:")
	a, err := Load([]string{"https://${IDX_USER}:${IDX_TOKEN}@idx.example/simple", "https://${NOPE}@other.example/simple", "https://pypi.org/simple", "http://files.example:8080/simple"})
	if err != nil {
		t.Fatal(err)
	}
	lines, secret, err := a.IndexLines([]string{"https://idx.example/simple", "https://files.example/simple", "http://files.example:8080/simple", "https://pypi.org/simple"})
	want := "--index-url https://alice:t0k%2Fen%40%3A@idx.example:443/simple\n" +
		"--extra-index-url https://bob:from-netrc@files.example:443/simple\n" +
		"--extra-index-url http://bob:from-netrc@files.example:8080/simple\n" + // the index as the user wrote it
		"--extra-index-url https://pypi.org/simple\n"
	if err != nil || !secret || lines != want {
		t.Errorf("IndexLines = %v %v\n%s\nwant:\n%s", secret, err, lines, want)
	}
	if lines, secret, err := a.IndexLines([]string{"https://pypi.org/simple"}); secret || err != nil || lines != "--index-url https://pypi.org/simple\n" {
		t.Errorf("no credentials apply: %q %v %v", lines, secret, err)
	}
	if _, _, err := a.IndexLines([]string{"https://other.example/simple"}); err == nil || !strings.Contains(err.Error(), "${NOPE}, which is not set") {
		t.Errorf("an unset variable, once needed: %v", err)
	}
	path, remove, err := File(lines)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v", fi.Mode())
	}
	remove()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("the file stays after remove")
	}
}

// TestTransportMatchesOrigin: credentials go to the origin they were
// given for; a redirect to another port, or from https to http, is
// followed without them.
func TestTransportMatchesOrigin(t *testing.T) {
	seen := map[string]string{}
	var mu sync.Mutex
	record := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[name] = r.Header.Get("Authorization")
			mu.Unlock()
		}
	}
	other := httptest.NewServer(record("other port"))
	defer other.Close()
	index := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/away" {
			http.Redirect(w, r, other.URL+"/stolen", http.StatusFound)
			return
		}
		record("index")(w, r)
	}))
	defer index.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen["https"] = r.Header.Get("Authorization")
		http.Redirect(w, r, other.URL+"/plain", http.StatusFound) // to http
	}))
	defer secure.Close()
	t.Setenv("NETRC", "/nonexistent")
	t.Setenv("U", "u")
	a, err := Load([]string{"http://${U}:p@" + strings.TrimPrefix(index.URL, "http://") + "/simple", "https://u:p@" + strings.TrimPrefix(secure.URL, "https://") + "/simple"})
	if err != nil {
		t.Fatal(err)
	}
	c := secure.Client()
	c.Transport = a.Transport(c.Transport)
	for _, u := range []string{index.URL + "/simple/", index.URL + "/away", secure.URL + "/simple/"} {
		if _, err := c.Get(u); err != nil {
			t.Fatal(err)
		}
	}
	if seen["index"] != "Basic dTpw" || seen["https"] != "Basic dTpw" {
		t.Errorf("the indexes got %q and %q, want their credentials", seen["index"], seen["https"])
	}
	if seen["other port"] != "" {
		t.Errorf("a redirect to another port or to http got credentials %q", seen["other port"])
	}
	// Given for https, never sent over http to the same host.
	b, _ := Load([]string{"https://u:p@example.test/simple"})
	var sent []string
	rt := b.Transport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = append(sent, r.URL.String()+" "+r.Header.Get("Authorization"))
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	}))
	for _, u := range []string{"https://example.test/simple/", "http://example.test/simple/", "https://example.test:8443/simple/"} {
		req, _ := http.NewRequest("GET", u, nil)
		rt.RoundTrip(req)
	}
	if want := []string{"https://example.test/simple/ Basic dTpw", "http://example.test/simple/ ", "https://example.test:8443/simple/ "}; !slices.Equal(sent, want) {
		t.Errorf("sent %q, want %q", sent, want)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRefused(t *testing.T) {
	if !Refused("ERROR: HTTP error 401 while getting http://127.0.0.1/files/x.whl") || Refused("ERROR: No matching distribution found for nope") {
		t.Error("Refused misreads pip's output")
	}
}
