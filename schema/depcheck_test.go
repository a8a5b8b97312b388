package schema

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: mlenv.toml is a pure format: its parser, semver and
// sizes, the reference grammar, redaction; never an engine or registry.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "github.com/BurntSushi/toml", "github.com/Masterminds/semver/v3", "github.com/docker/go-units", "github.com/docker/go-connections/nat",
		"github.com/google/go-containerregistry/pkg/name", "internal/redact")
	depcheck.AssertNoDependency(t, "github.com/moby/moby/client", "github.com/google/go-containerregistry/pkg/v1/remote")
}
