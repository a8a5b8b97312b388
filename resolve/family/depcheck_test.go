package family

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: families are data over the formats and versions.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "github.com/google/go-containerregistry/pkg/name", "github.com/google/go-containerregistry/pkg/v1", "internal/version", "lock", "schema")
	depcheck.AssertNoDependency(t, "github.com/moby/moby/client", "github.com/google/go-containerregistry/pkg/v1/remote")
}
