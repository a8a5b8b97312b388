package envuse

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRecordAndGet: the last use wins; a file that is not a use, or is
// another key's, is none.
func TestRecordAndGet(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if _, ok := s.Get("0123456789abcdef0123"); ok {
		t.Fatal("a use before any run")
	}
	s.Record("0123456789abcdef0123", "/home/a/paper")
	s.Record("0123456789abcdef0123", "/home/a/other")
	u, ok := s.Get("0123456789abcdef0123")
	if !ok || u.Project != "/home/a/other" || time.Since(u.Time) > time.Minute {
		t.Fatalf("use %+v %v", u, ok)
	}
	os.WriteFile(filepath.Join(s.Dir, "aaaaaaaaaaaaaaaaaaaa.json"), []byte(`{"key":"bbbbbbbbbbbbbbbbbbbb","project":"/x"}`), 0o600)
	if _, ok := s.Get("aaaaaaaaaaaaaaaaaaaa"); ok {
		t.Error("another key's use was taken")
	}
	s.Record("../../etc", "/x")
	if _, err := os.Stat(filepath.Join(s.Dir, "../../etc.json")); err == nil {
		t.Error("a key named a file outside the store")
	}
	s.Forget("0123456789abcdef0123")
	if _, ok := s.Get("0123456789abcdef0123"); ok {
		t.Error("forgotten use still there")
	}
}
