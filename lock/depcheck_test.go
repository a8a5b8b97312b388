package lock

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: mlenv.lock is a pure format over mlenv.toml's;
// neither pipeline, engine nor registry.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "github.com/BurntSushi/toml", "github.com/google/go-containerregistry/pkg/name", "internal/filelock", "internal/redact", "schema")
	depcheck.AssertNoDependency(t, "github.com/moby/moby/client", "github.com/google/go-containerregistry/pkg/v1/remote", "resolve", "runner")
}
