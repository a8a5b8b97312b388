package depcheck

import "testing"

func TestPermitted(t *testing.T) {
	allowed := []string{"lock", "github.com/moby/moby/api/...", "golang.org/x/sync/errgroup"}
	for imp, want := range map[string]bool{
		Module + "/lock":                           true,
		Module + "/lock/export":                    false,
		"github.com/moby/moby/api/types/container": true,
		"github.com/moby/moby/api":                 true,
		"github.com/moby/moby/client":              false,
		"golang.org/x/sync/errgroup":               true,
		"golang.org/x/sync/singleflight":           false,
	} {
		if got := permitted(imp, allowed); got != want {
			t.Errorf("permitted(%s) = %v, want %v", imp, got, want)
		}
	}
}

// The checker's own package imports only the standard library.
func TestDependencies(t *testing.T) {
	AssertImports(t)
}
