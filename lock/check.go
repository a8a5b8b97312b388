package lock

import (
	"github.com/mlenv/mlenv/schema"
)

// Freshness says whether a lock still matches its mlenv.toml and, if not,
// which sections changed.
type Freshness struct {
	Fresh   bool
	Changed []string // "image", "pip", "run", "project"
}

// Reason is a one-line explanation of a stale lock.
func (f Freshness) Reason() string {
	if f.Fresh {
		return "the lock is up to date"
	}
	s := "mlenv.toml changed since the lock was written"
	if len(f.Changed) > 0 {
		s += " (" + joinSections(f.Changed) + ")"
	}
	return s
}

func joinSections(secs []string) string {
	out := ""
	for i, s := range secs {
		if i > 0 {
			out += ", "
		}
		out += "[" + s + "]"
	}
	return out
}

// Check compares a lock with the hashes of the spec it should match.
func Check(h schema.Hashes, l *Lock) Freshness {
	if l.InputHash == h.Input {
		return Freshness{Fresh: true}
	}
	var changed []string
	if l.Inputs.Image != h.Image {
		changed = append(changed, "image")
	}
	if l.Inputs.Pip != h.Pip {
		changed = append(changed, "pip")
	}
	if l.Inputs.Run != h.Run {
		changed = append(changed, "run")
	}
	if len(changed) == 0 {
		changed = append(changed, "project")
	}
	return Freshness{Changed: changed}
}
