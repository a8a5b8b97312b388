package envimage

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: the environment image is a function of the lock and
// its files: image types, no engine, no registry client.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "github.com/BurntSushi/toml", "github.com/google/go-containerregistry/pkg/v1", "github.com/google/go-containerregistry/pkg/v1/mutate", "github.com/google/go-containerregistry/pkg/v1/types",
		"golang.org/x/sync/errgroup", "internal/indexauth", "internal/leftover", "internal/progress", "internal/redact", "internal/userdir", "lock", "schema")
	depcheck.AssertNoDependency(t, "github.com/moby/moby/client", "github.com/google/go-containerregistry/pkg/v1/remote", "resolve", "runner")
}
