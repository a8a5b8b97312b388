package pip

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: pip pinning asks for tasks; it never runs them.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "internal/indexauth", "internal/redact", "internal/task", "lock", "schema")
	depcheck.AssertNoDependency(t, "github.com/moby/moby/client", "github.com/google/go-containerregistry/pkg/v1/remote", "runner")
}
