package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/internal/depcheck"
)

// TestDependencies: the CLI parses flags, calls the library and prints;
// it connects the engine through runner/docker and reaches no client
// library of its own.
func TestDependencies(t *testing.T) {
	depcheck.AssertImports(t, "github.com/docker/go-units", "github.com/moby/term", "github.com/spf13/cobra",
		"internal/envimage", "internal/indexauth", "internal/progress", "internal/registry", "internal/userdir", "lock", "lock/export",
		"resolve", "resolve/family", "runner", "runner/archive", "runner/docker", "schema")
}

// TestNothingImportsTheCLI: cmd/ is the top of the graph.
func TestNothingImportsTheCLI(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}: {{join .Imports " "}}`, depcheck.Module+"/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if pkg, imports, _ := strings.Cut(line, ": "); strings.Contains(" "+imports, " "+depcheck.Module+"/cmd/") {
			t.Errorf("%s imports the CLI", pkg)
		}
	}
}
