package filelock

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: a leaf (x/sys for Windows' file locks).
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "golang.org/x/sys/windows")
}
