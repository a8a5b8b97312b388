package resolve_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/internal/registrytest"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/resolve"
	"github.com/mlenv/mlenv/resolve/family"
	"github.com/mlenv/mlenv/schema"
)

var update = flag.Bool("update", false, "rewrite the golden locks in testdata/lock")

// TestLockGolden locks each testdata/lock/<case>/mlenv.toml with
// resolve.Lock against the family fixtures and compares with mlenv.lock
// beside it (-update rewrites them). The registry's address is written as
// {{registry}}.
func TestLockGolden(t *testing.T) {
	reg := families(t)
	cases, err := filepath.Glob("testdata/lock/*/mlenv.toml")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, specPath := range cases {
		t.Run(filepath.Base(filepath.Dir(specPath)), func(t *testing.T) {
			src, err := os.ReadFile(specPath)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), schema.FileName)
			spec, err := schema.Parse(path, []byte(strings.ReplaceAll(string(src), "{{registry}}", reg.Host)), family.Validate)
			if err != nil {
				t.Fatal(err)
			}
			h, err := spec.Hashes()
			if err != nil {
				t.Fatal(err)
			}
			l, err := resolve.Lock(context.Background(), spec, h, nil, resolve.Options{Registry: newResolver(t).Registry, Generator: "mlenv 0.1.0"})
			if err != nil {
				t.Fatal(err)
			}
			b, err := lock.Marshal(l)
			if err != nil {
				t.Fatal(err)
			}
			got := registrytest.NormalizeLock(string(b), reg.Host)
			golden := filepath.Join(filepath.Dir(specPath), lock.FileName)
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want, _ := os.ReadFile(golden); got != string(want) {
				t.Errorf("lock differs from %s (run go test ./resolve -update and review the diff):\n%s", golden, got)
			}
		})
	}
}
