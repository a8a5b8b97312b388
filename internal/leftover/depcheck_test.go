package leftover

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: a leaf of the standard library.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t)
}
