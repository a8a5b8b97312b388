package envrecord

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: the record speaks lock's types and keeps its files in
// the user's directory.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "internal/userdir", "lock", "schema")
}
