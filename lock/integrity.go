package lock

import (
	"fmt"
	"strings"

	"github.com/mlenv/mlenv/schema"
)

// Integrity holds a digest of each part of the lock as mlenv wrote it, so
// that a hand edit (a digest changed, a hash changed, a package added) is
// refused with the part it touched named, rather than run.
type Integrity struct {
	Image    string `toml:"image" json:"image"`
	Versions string `toml:"versions" json:"versions"`
	Base     string `toml:"base" json:"base"`
	Packages string `toml:"packages" json:"packages"`
	Run      string `toml:"run" json:"run"`
	// Build digests [[build-package]]; a lock without any has none.
	Build string `toml:"build,omitempty" json:"build,omitempty"`
}

// computeIntegrity digests l's parts; l must be in canonical order.
func computeIntegrity(l *Lock) Integrity {
	return Integrity{
		Image:    schema.DigestJSON(struct{ Hash, Image any }{l.InputHash, l.Image}),
		Versions: schema.DigestJSON(l.Versions),
		Base:     schema.DigestJSON(l.Base),
		Packages: schema.DigestJSON(l.Packages),
		Run:      schema.DigestJSON(struct{ Run, Inputs any }{l.Run, l.Inputs}),
		Build:    buildIntegrity(l.Build),
	}
}

func buildIntegrity(build []Package) string {
	if len(build) == 0 {
		return ""
	}
	return schema.DigestJSON(build)
}

// checkIntegrity names the parts of l that differ from what mlenv wrote.
func checkIntegrity(l *Lock) error {
	canon := canonical(l)
	want := computeIntegrity(canon)
	var edited []string
	for _, part := range []struct{ name, got, want string }{
		{"[image] (or input-hash)", l.Integrity.Image, want.Image},
		{"[versions]", l.Integrity.Versions, want.Versions},
		{"[[base]]", l.Integrity.Base, want.Base},
		{"[[package]]", l.Integrity.Packages, want.Packages},
		{"[run] (or [inputs])", l.Integrity.Run, want.Run},
		{"[[build-package]]", l.Integrity.Build, want.Build},
	} {
		if part.got != part.want {
			edited = append(edited, part.name)
		}
	}
	if len(edited) == 0 {
		return nil
	}
	return fmt.Errorf("%s changed since mlenv wrote the lock (edited by hand?): mlenv will not use it; restore it from version control, or run `mlenv lock --upgrade` to write a new one", strings.Join(edited, ", "))
}
