package runner

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: the run pipeline speaks to the engine through
// Client (moby's API types) and to no registry itself; it never imports
// the lock pipeline.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "github.com/containerd/errdefs", "github.com/docker/go-units", "github.com/moby/term",
		"github.com/moby/moby/api/...", "github.com/moby/moby/client", "github.com/moby/moby/client/pkg/jsonmessage",
		"github.com/opencontainers/image-spec/specs-go/v1", "go.yaml.in/yaml/v3",
		"github.com/google/go-containerregistry/pkg/authn", "github.com/google/go-containerregistry/pkg/name", "github.com/google/go-containerregistry/pkg/v1", "github.com/google/go-containerregistry/pkg/v1/tarball",
		"internal/envimage", "internal/envrecord", "internal/envuse", "internal/filelock", "internal/leftover", "internal/indexauth", "internal/progress", "internal/task", "internal/userdir", "internal/version", "lock", "schema")
	depcheck.AssertNoDependency(t, "github.com/google/go-containerregistry/pkg/v1/remote", "resolve", "resolve/pip", "resolve/family", "internal/registry")
}
