package envuse

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: uses are files in the user's directory, nothing more.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "internal/userdir")
}
