package redact

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: a leaf.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t)
}
