package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mlenv/mlenv/internal/registrytest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

var (
	familiesOnce sync.Once
	familiesReg  *registrytest.Registry
)

// families returns one in-process registry holding every family fixture.
func families(t *testing.T) *registrytest.Registry {
	familiesOnce.Do(func() {
		familiesReg = registrytest.New(keepAlive{t})
		familiesReg.PushFamilies(t)
	})
	familiesReg.Wrap = nil
	familiesReg.Requests()
	return familiesReg
}

type keepAlive struct{ testing.TB }

func (keepAlive) Cleanup(func()) {}

// result is one mlenv invocation's outcome.
type result struct {
	code           int
	stdout, stderr string
}

func mlenv(t *testing.T, dir string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	args = append([]string{"--file", filepath.Join(dir, "mlenv.toml")}, args...)
	code := execute(context.Background(), args, strings.NewReader(""), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// newProject writes an mlenv.toml (with {{registry}} replaced) to a new
// directory and returns it.
func newProject(t *testing.T, reg *registrytest.Registry, toml string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "mlenv.toml"), strings.ReplaceAll(toml, "{{registry}}", reg.Host))
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readFileBytes(path string) ([]byte, error) { return os.ReadFile(path) }

// TestExitCodesDocumented: README's exit-code table is exit.go's.
func TestExitCodesDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range exitCodes {
		if row := "| " + c.code + " | " + c.meaning + " |"; !strings.Contains(string(readme), row) {
			t.Errorf("README.md lacks the row %q", row)
		}
	}
	if help := exitHelp(); !strings.Contains(help, "125    mlenv run failed before the container started") {
		t.Errorf("help:\n%s", help)
	}
}
