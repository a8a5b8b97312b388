package archive

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: the archive writes from the registry and index and
// loads into the engine through the runner.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "github.com/google/go-containerregistry/pkg/name", "github.com/google/go-containerregistry/pkg/v1", "github.com/google/go-containerregistry/pkg/v1/empty", "github.com/google/go-containerregistry/pkg/v1/layout",
		"internal/envimage", "internal/envrecord", "internal/indexauth", "internal/registry", "lock", "runner", "schema")
	depcheck.AssertNoDependency(t, "resolve")
}
