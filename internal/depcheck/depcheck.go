// Package depcheck guards the import graph, as go-containerregistry's
// internal/depcheck does: each guarded package has a depcheck_test.go
// beside it with the allow-list of what it may import, so a new edge
// fails that package's tests and is a decision, made in review.
package depcheck

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Module is this module's import path.
const Module = "github.com/mlenv/mlenv"

// AssertImports fails unless every import of the package in the current
// directory (its non-test files; the standard library aside) is allowed:
// an allowed path ending in "/..." allows everything below it. Paths of
// this module may be written relative to it ("lock", "internal/task").
func AssertImports(t *testing.T, allowed ...string) {
	t.Helper()
	for _, imp := range goList(t, "-f", `{{join .Imports "\n"}}`, ".") {
		if imp == "" || standard(imp) || permitted(imp, allowed) {
			continue
		}
		t.Errorf("%s imports %s, which its allow-list (depcheck_test.go) does not name: add it there if the new edge is wanted", pkgPath(t), imp)
	}
}

// AssertNoDependency fails if the package in the current directory
// depends on any of banned, directly or not (the formats never reach the
// engine or the registry client, however indirectly).
func AssertNoDependency(t *testing.T, banned ...string) {
	t.Helper()
	deps := goList(t, "-deps", "-f", "{{.ImportPath}}", ".")
	for _, b := range banned {
		if slices.Contains(deps, full(b)) {
			t.Errorf("%s depends on %s", pkgPath(t), full(b))
		}
	}
}

func permitted(imp string, allowed []string) bool {
	for _, a := range allowed {
		a = full(a)
		if prefix, ok := strings.CutSuffix(a, "/..."); ok && (imp == prefix || strings.HasPrefix(imp, prefix+"/")) || imp == a {
			return true
		}
	}
	return false
}

// full is a path of this module written relative to it, made absolute.
func full(p string) string {
	if standard(p) && !strings.Contains(p, ".") {
		first := strings.SplitN(p, "/", 2)[0]
		if slices.Contains([]string{"cmd", "lock", "resolve", "runner", "schema", "internal", "bench"}, first) {
			return Module + "/" + p
		}
	}
	return p
}

// standard reports whether an import path is the standard library's: its
// first element has no dot.
func standard(p string) bool { return !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") }

func pkgPath(t *testing.T) string { return goList(t, "-f", "{{.ImportPath}}", ".")[0] }

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg += ": " + string(ee.Stderr)
		}
		t.Fatalf("go list %v: %s", args, msg)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}
