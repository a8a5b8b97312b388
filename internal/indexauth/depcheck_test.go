package indexauth

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: index credentials read the lock's recipe and
// mlenv.toml's URL rules; they reach no engine or registry client.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "internal/redact", "lock", "schema")
	depcheck.AssertNoDependency(t, "github.com/moby/moby/client", "github.com/google/go-containerregistry/pkg/v1/remote")
}
