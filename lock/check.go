package lock

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/mlenv/mlenv/schema"
)

// Freshness says whether a lock still matches its mlenv.toml and, if not,
// which sections and files changed.
type Freshness struct {
	Fresh   bool
	Changed []string // sections of mlenv.toml: "image", "pip", "run", "project"
	Files   []string // other inputs: the requirements file
	// Forged lists the keys of the lock's [run] that are not what its
	// mlenv.toml gives, where the lock claims [run] unchanged: the lock
	// was edited and its integrity recomputed. Never usable, --frozen or
	// not.
	Forged []string
}

// Reason is a one-line explanation of a stale lock that names what
// changed: mlenv.toml's sections, the requirements file, or both.
func (f Freshness) Reason() string {
	if f.Fresh {
		return "the lock is up to date"
	}
	if len(f.Forged) > 0 {
		return fmt.Sprintf("its [run] %s is not what mlenv.toml's [run] gives, though the lock says [run] is unchanged (the lock was edited by hand, its integrity recomputed): mlenv will not run it", strings.Join(f.Forged, ", "))
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

// CheckRun compares the lock's [run] with the one mlenv.toml gives (a
// pure function of it): where the lock says its [run] input is unchanged
// and yet a key differs, the lock is forged (Freshness.Forged).
func CheckRun(h schema.Hashes, spec Run, l *Lock) Freshness {
	f := Check(h, l)
	if l.Inputs.Run != h.Run {
		return f
	}
	if keys := runKeysDiffer(spec, l.Run); len(keys) > 0 {
		f.Fresh, f.Forged = false, keys
		if !slices.Contains(f.Changed, "run") {
			f.Changed = append(f.Changed, "run")
		}
	}
	return f
}

// runKeysDiffer names the keys of [run] whose values differ.
func runKeysDiffer(a, b Run) []string {
	ma, mb := runFields(a), runFields(b)
	var keys []string
	for _, k := range unionKeys(ma, mb) {
		if string(ma[k]) != string(mb[k]) {
			keys = append(keys, k)
		}
	}
	return keys
}

func runFields(r Run) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	b, _ := json.Marshal(r) // plain strings, slices and maps
	_ = json.Unmarshal(b, &m)
	return m
}
