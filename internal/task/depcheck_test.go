package task

import (
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: the task contract is a leaf both pipelines share.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t)
}
