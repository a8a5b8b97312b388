package main

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/mlenv/mlenv/"

// Clients that only some layers may reach.
const (
	engineClient   = "github.com/moby/moby/client"
	registryClient = "github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestLayering guards the house's layering, as go-containerregistry's
// depcheck does: the formats and leaf packages reach neither the engine
// nor the registry client, the resolver never the engine client, the
// runner not the resolver, the environment image builder neither client
// (it is a function of the lock and its inputs), and nothing imports the
// CLI.
func TestLayering(t *testing.T) {
	forbidden := map[string][]string{
		"schema":          {engineClient, registryClient, module + "lock", module + "resolve", module + "runner"},
		"lock":            {engineClient, registryClient, module + "resolve", module + "runner"},
		"lock/export":     {engineClient, registryClient, module + "resolve", module + "runner"},
		"resolve/version": {engineClient, registryClient, module + "schema", module + "lock"},
		"resolve/family":  {engineClient, registryClient},
		"resolve/pip":     {engineClient, registryClient},
		"runner/task":     {engineClient, registryClient, module + "resolve"},
		"runner/envimage": {engineClient, registryClient, module + "resolve", module + "runner/vendor"},
		"resolve":         {engineClient},
		"runner": {registryClient, module + "resolve", module + "resolve/pip", module + "resolve/family",
			module + "resolve/registry"},
	}
	for pkg, bad := range forbidden {
		deps := goList(t, "-deps", module+pkg)
		for _, b := range bad {
			for _, d := range deps {
				if d == b {
					t.Errorf("%s depends on %s", pkg, b)
				}
			}
		}
	}
	for _, line := range goList(t, "-f", "{{.ImportPath}}: {{join .Imports \" \"}}", module+"...") {
		if pkg, imports, _ := strings.Cut(line, ": "); strings.Contains(" "+imports+" ", " "+module+"cmd/") {
			t.Errorf("%s imports the CLI", pkg)
		}
	}
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}
