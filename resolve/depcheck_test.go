package resolve

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: the lock pipeline uses the shared leaves and its own
// parts; never the engine client or the run pipeline (tasks go through
// internal/task). remote is here for its Descriptor type, which the
// registry client returns.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "github.com/google/go-containerregistry/pkg/name", "github.com/google/go-containerregistry/pkg/v1", "github.com/google/go-containerregistry/pkg/v1/remote", "golang.org/x/sync/errgroup",
		"internal/envimage", "internal/envrecord", "internal/indexauth", "internal/progress", "internal/redact", "internal/registry", "internal/task", "internal/version",
		"lock", "resolve/family", "resolve/pip", "schema")
	depcheck.AssertNoDependency(t, "github.com/moby/moby/client", "runner")
}
