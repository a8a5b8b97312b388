package docker

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: the one package that connects moby's client.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "github.com/moby/moby/client", "golang.org/x/sys/unix", "runner")
}
