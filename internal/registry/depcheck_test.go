package registry

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: the registry client is go-containerregistry's, and
// knows nothing of mlenv's formats or the engine.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "github.com/google/go-containerregistry/pkg/...", "golang.org/x/sync/singleflight", "internal/progress")
	depcheck.AssertNoDependency(t, "github.com/moby/moby/client", "lock", "schema")
}
