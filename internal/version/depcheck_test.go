package version

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: a leaf of numbers and tables.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "github.com/Masterminds/semver/v3")
}
