package progress

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: progress is formatting over a writer.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "github.com/docker/go-units")
}
