package export

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: exports render a lock, nothing more.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "github.com/google/go-containerregistry/pkg/name", "go.yaml.in/yaml/v3", "lock", "schema")
	depcheck.AssertNoDependency(t, "github.com/moby/moby/client", "github.com/google/go-containerregistry/pkg/v1/remote", "resolve", "runner")
}
