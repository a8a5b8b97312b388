package envrecord

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: the record speaks lock's types and keeps its files in
// the user's directory.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "github.com/google/go-containerregistry/pkg/v1", "github.com/google/go-containerregistry/pkg/v1/partial", "github.com/google/go-containerregistry/pkg/v1/types",
		"internal/userdir", "lock", "schema")
}
