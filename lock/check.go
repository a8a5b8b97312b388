package lock

import (
	"strings"

	"github.com/mlenv/mlenv/schema"
)

// Freshness says whether a lock still matches its mlenv.toml and, if not,
// which sections and files changed.
type Freshness struct {
	Fresh   bool
	Changed []string // sections of mlenv.toml: "image", "pip", "run", "project"
	Files   []string // other inputs: the requirements file
}

// Reason is a one-line explanation of a stale lock that names what
// changed: mlenv.toml's sections, the requirements file, or both.
func (f Freshness) Reason() string {
	if f.Fresh {
		return "the lock is up to date"
	}
	var parts []string
	if len(f.Changed) > 0 {
		parts = append(parts, "mlenv.toml changed ("+joinSections(f.Changed)+")")
	}
	for _, file := range f.Files {
		parts = append(parts, file+" ([pip] requirements)")
	}
	if len(f.Changed) == 0 {
		return strings.Join(parts, " and ") + " changed since the lock was written"
	}
	return strings.Join(parts, " and ") + " since the lock was written"
}

func joinSections(secs []string) string {
	out := make([]string, len(secs))
	for i, s := range secs {
		out[i] = "[" + s + "]"
	}
	return strings.Join(out, ", ")
}

// Check compares a lock with the hashes of the spec it should match.
func Check(h schema.Hashes, l *Lock) Freshness {
	if l.InputHash == h.Input {
		return Freshness{Fresh: true}
	}
	var f Freshness
	if l.Inputs.Image != h.Image {
		f.Changed = append(f.Changed, "image")
	}
	if l.Inputs.Pip != h.Pip {
		f.Changed, f.Files = pipChanges(h, l, f.Changed)
	}
	if l.Inputs.Run != h.Run {
		f.Changed = append(f.Changed, "run")
	}
	if len(f.Changed)+len(f.Files) == 0 {
		f.Changed = append(f.Changed, "project")
	}
	return f
}

// pipChanges tells the [pip] table from the requirements file, where the
// lock recorded them apart (older locks did not: then it is [pip]).
func pipChanges(h schema.Hashes, l *Lock, changed []string) ([]string, []string) {
	if l.Inputs.PipSection == "" || l.Inputs.PipSection != h.PipSection {
		changed = append(changed, "pip")
	}
	if l.Inputs.PipSection != "" && l.Inputs.Requirements != h.Requirements && h.RequirementsFile != "" {
		return changed, []string{h.RequirementsFile}
	}
	return changed, nil
}
