package indexauth

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadAndFile(t *testing.T) {
	dir := t.TempDir()
	netrc := filepath.Join(dir, "netrc")
	os.WriteFile(netrc, []byte("machine files.example login bob password from-netrc\ndefault login anon password x\nmachine idx.example\n  login old password stale\n"), 0o600)
	t.Setenv("NETRC", netrc)
	t.Setenv("IDX_USER", "alice")
	t.Setenv("IDX_TOKEN", "t0k/en@:")
	a, err := Load([]string{"https://${IDX_USER}:${IDX_TOKEN}@idx.example/simple", "https://${NOPE}@other.example/simple", "https://pypi.org/simple"})
	if err != nil {
		t.Fatal(err)
	}
	path, remove, err := a.File([]string{"https://idx.example/simple", "https://files.example/a.whl", "https://pypi.org/simple"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := "machine files.example login bob password from-netrc\nmachine idx.example login alice password t0k/en@:\n"
	if string(b) != want {
		t.Errorf("netrc:\n%s\nwant:\n%s", b, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("netrc mode %v", fi.Mode())
	}
	remove()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("the netrc file stays after remove")
	}
	if p, _, err := a.File([]string{"https://pypi.org/simple"}); p != "" || err != nil {
		t.Errorf("no credentials apply: %q %v", p, err)
	}
	if _, _, err := a.File([]string{"https://other.example/simple"}); err == nil || !strings.Contains(err.Error(), "${NOPE}, which is not set") {
		t.Errorf("an unset variable, once needed: %v", err)
	}
}

func TestTransport(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("Authorization") }))
	defer srv.Close()
	t.Setenv("NETRC", "/nonexistent")
	t.Setenv("U", "u")
	a, err := Load([]string{"http://${U}:p@127.0.0.1/simple"})
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: a.Transport(http.DefaultTransport)}
	if _, err := c.Get(srv.URL); err != nil {
		t.Fatal(err)
	}
	if got != "Basic dTpw" {
		t.Errorf("Authorization = %q", got)
	}
}

func TestRefused(t *testing.T) {
	if !Refused("ERROR: HTTP error 401 while getting http://127.0.0.1/files/x.whl") || Refused("ERROR: No matching distribution found for nope") {
		t.Error("Refused misreads pip's output")
	}
}
