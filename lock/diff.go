package lock

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Change is one field that differs between two locks.
type Change struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// PackageChange is a package whose version or files differ.
type PackageChange struct {
	Name       string `json:"name"`
	Platforms  string `json:"platforms,omitempty"`
	OldVersion string `json:"old-version"`
	NewVersion string `json:"new-version"`
	// HashesOnly is set when the version is the same but the files are
	// not: the index serves other bytes under the same version.
	HashesOnly bool `json:"hashes-only,omitempty"`
	// The index and the file URL, where they moved: where pip fetches
	// from shapes the environment as much as the version does.
	OldIndex string `json:"old-index,omitempty"`
	NewIndex string `json:"new-index,omitempty"`
	OldURL   string `json:"old-url,omitempty"`
	NewURL   string `json:"new-url,omitempty"`
}

// Diff is what changed from one lock to another.
type Diff struct {
	Image    []Change        `json:"image"`
	Versions []Change        `json:"versions"`
	Added    []Package       `json:"added"`
	Removed  []Package       `json:"removed"`
	Changed  []PackageChange `json:"changed"`
	Base     []Change        `json:"base"`
	Run      []Change        `json:"run"`
	// Build is the build requirements ([[build-package]]) that differ,
	// one change per package (name, "version sha256:…").
	Build []Change `json:"build"`
}

// Empty reports whether the locks pin the same environment.
func (d *Diff) Empty() bool {
	return len(d.Image)+len(d.Versions)+len(d.Added)+len(d.Removed)+len(d.Changed)+len(d.Base)+len(d.Run)+len(d.Build) == 0
}

// layoutName names a layout as diff shows it.
func layoutName(layout string) string {
	if layout == LayoutOneLayer {
		return "one layer"
	}
	return layout
}

// Compare returns what changed from a to b.
func Compare(a, b *Lock) *Diff {
	d := &Diff{}
	d.Image = changes([][3]string{
		{"reference", a.Image.Reference, b.Image.Reference},
		{"repository", a.Image.Repository, b.Image.Repository},
		{"tag", a.Image.Tag, b.Image.Tag},
		{"digest", a.Image.Digest, b.Image.Digest},
		{"media-type", a.Image.MediaType, b.Image.MediaType},
		{"env-layout", layoutName(a.Image.EnvLayout), layoutName(b.Image.EnvLayout)},
	})
	d.Image = append(d.Image, platformChanges(a.Image.Platforms, b.Image.Platforms)...)
	d.Versions = changes([][3]string{
		{"framework", a.Versions.Framework, b.Versions.Framework},
		{"framework-version", a.Versions.FrameworkVersion, b.Versions.FrameworkVersion},
		{"cuda", a.Versions.CUDA, b.Versions.CUDA},
		{"cudnn", a.Versions.CuDNN, b.Versions.CuDNN},
		{"python", a.Versions.Python, b.Versions.Python},
		{"min-driver", a.Versions.MinDriver, b.Versions.MinDriver},
	})
	d.Added, d.Removed, d.Changed = packageChanges(a.Packages, b.Packages)
	d.Base = distChanges(a.Base, b.Base)
	d.Run = changes([][3]string{{"run", jsonString(a.Run), jsonString(b.Run)}})
	d.Build = buildChanges(a.Build, b.Build)
	d.nonNil()
	return d
}

// nonNil makes every list empty rather than nil, so that JSON says [] for
// no change (tools iterate without a null check).
func (d *Diff) nonNil() {
	for _, l := range []*[]Change{&d.Image, &d.Versions, &d.Base, &d.Run, &d.Build} {
		if *l == nil {
			*l = []Change{}
		}
	}
	if d.Added == nil {
		d.Added = []Package{}
	}
	if d.Removed == nil {
		d.Removed = []Package{}
	}
	if d.Changed == nil {
		d.Changed = []PackageChange{}
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func changes(fields [][3]string) []Change {
	var out []Change
	for _, f := range fields {
		if f[1] != f[2] {
			out = append(out, Change{f[0], f[1], f[2]})
		}
	}
	return out
}

func platformChanges(a, b []Platform) []Change {
	idx := func(ps []Platform) map[string]Platform {
		m := map[string]Platform{}
		for _, p := range ps {
			m[p.Platform] = p
		}
		return m
	}
	am, bm := idx(a), idx(b)
	var out []Change
	for _, n := range unionKeys(am, bm) {
		out = append(out, changes([][3]string{
			{"platform " + n + " digest", am[n].Digest, bm[n].Digest},
			{"platform " + n + " config", am[n].Config, bm[n].Config},
			{"platform " + n + " env", am[n].EnvDigest, bm[n].EnvDigest},
			{"platform " + n + " env-config", am[n].EnvConfig, bm[n].EnvConfig},
		})...)
	}
	return out
}

func packageKey(p Package) string { return p.Name + "\x00" + strings.Join(p.Platforms, ",") }

func packageChanges(a, b []Package) (added, removed []Package, changed []PackageChange) {
	am := map[string]Package{}
	for _, p := range a {
		am[packageKey(p)] = p
	}
	bm := map[string]Package{}
	for _, p := range b {
		bm[packageKey(p)] = p
		old, ok := am[packageKey(p)]
		switch {
		case !ok:
			added = append(added, p)
		case old.Version != p.Version || !slices.Equal(old.Hashes, p.Hashes) || old.Index != p.Index || old.URL != p.URL:
			c := PackageChange{Name: p.Name, Platforms: strings.Join(p.Platforms, ","), OldVersion: old.Version, NewVersion: p.Version,
				HashesOnly: old.Version == p.Version && !slices.Equal(old.Hashes, p.Hashes)}
			if old.Index != p.Index {
				c.OldIndex, c.NewIndex = old.Index, p.Index
			}
			if old.URL != p.URL {
				c.OldURL, c.NewURL = old.URL, p.URL
			}
			changed = append(changed, c)
		}
	}
	for _, p := range a {
		if _, ok := bm[packageKey(p)]; !ok {
			removed = append(removed, p)
		}
	}
	return added, removed, changed
}

func distChanges(a, b []Dist) []Change {
	am := map[string]string{}
	for _, d := range a {
		am[d.Name] = d.Version
	}
	bm := map[string]string{}
	for _, d := range b {
		bm[d.Name] = d.Version
	}
	var out []Change
	for _, n := range unionKeys(am, bm) {
		if am[n] != bm[n] {
			out = append(out, Change{n, am[n], bm[n]})
		}
	}
	return out
}

// Format writes the diff for a human: +added, -removed, ~changed.
func (d *Diff) Format() string {
	if d.Empty() {
		return "the locks pin the same environment\n"
	}
	var b strings.Builder
	section := func(title string, cs []Change) {
		if len(cs) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s:\n", title)
		for _, c := range cs {
			fmt.Fprintf(&b, "  %s: %s → %s\n", c.Field, orNone(c.Old), orNone(c.New))
		}
	}
	section("image", d.Image)
	section("versions", d.Versions)
	section("build requirements", d.Build)
	if len(d.Added)+len(d.Removed)+len(d.Changed) > 0 {
		b.WriteString("packages:\n")
		for _, p := range d.Added {
			fmt.Fprintf(&b, "  + %s %s%s\n", p.Name, p.Version, platformNote(strings.Join(p.Platforms, ",")))
		}
		for _, p := range d.Removed {
			fmt.Fprintf(&b, "  - %s %s%s\n", p.Name, p.Version, platformNote(strings.Join(p.Platforms, ",")))
		}
		for _, c := range d.Changed {
			switch {
			case c.HashesOnly:
				fmt.Fprintf(&b, "  ~ %s %s: other files (hashes changed)%s\n", c.Name, c.NewVersion, platformNote(c.Platforms))
			case c.OldVersion != c.NewVersion:
				fmt.Fprintf(&b, "  ~ %s %s → %s%s\n", c.Name, c.OldVersion, c.NewVersion, platformNote(c.Platforms))
			default:
				fmt.Fprintf(&b, "  ~ %s %s%s\n", c.Name, c.NewVersion, platformNote(c.Platforms))
			}
			if c.OldIndex != c.NewIndex {
				fmt.Fprintf(&b, "    index: %s → %s\n", orNone(c.OldIndex), orNone(c.NewIndex))
			}
			if c.OldURL != c.NewURL {
				fmt.Fprintf(&b, "    url: %s → %s\n", orNone(c.OldURL), orNone(c.NewURL))
			}
		}
	}
	section("base", d.Base)
	if len(d.Run) > 0 {
		b.WriteString("run: settings changed\n")
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func platformNote(p string) string {
	if p == "" {
		return ""
	}
	return " [" + p + "]"
}

// unionKeys is every key of a and b, sorted.
func unionKeys[V any](a, b map[string]V) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// buildChanges are the build requirements that differ, by name: a version
// or a file (its first hash).
func buildChanges(a, b []Package) []Change {
	pin := func(ps []Package) map[string]string {
		m := map[string]string{}
		for _, p := range ps {
			key := p.Name + platformNote(strings.Join(p.Platforms, ","))
			m[key] = p.Version
			if len(p.Hashes) > 0 {
				m[key] += " " + p.Hashes[0]
			}
		}
		return m
	}
	pa, pb := pin(a), pin(b)
	var fields [][3]string
	for _, k := range unionKeys(pa, pb) {
		fields = append(fields, [3]string{k, pa[k], pb[k]})
	}
	return changes(fields)
}
