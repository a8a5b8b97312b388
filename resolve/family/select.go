package family

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/mlenv/mlenv/internal/version"
	"github.com/mlenv/mlenv/schema"
)

// Constraints is what [image] asks of a family's images.
type Constraints struct {
	Version, CUDA, CuDNN version.Constraint
	Variant, OS          string
	OSVersion            string
	Lowest               bool
}

// ConstraintsOf parses the constraints of an [image] table; schema has
// already validated them, so errors here are internal.
func ConstraintsOf(im schema.Image) (Constraints, error) {
	var cs Constraints
	var err error
	if cs.Version, err = version.ParseConstraint(im.Version); err != nil {
		return cs, err
	}
	if cs.CUDA, err = version.ParseConstraint(im.CUDA); err != nil {
		return cs, err
	}
	if cs.CuDNN, err = version.ParseConstraint(im.CuDNN); err != nil {
		return cs, err
	}
	cs.Variant, cs.OS, cs.OSVersion = im.Variant, im.OS, im.OSVersion
	cs.Lowest = im.Resolution == "lowest"
	return cs, nil
}

func (cs Constraints) byField() map[Field]version.Constraint {
	return map[Field]version.Constraint{FieldFramework: cs.Version, FieldCUDA: cs.CUDA, FieldCuDNN: cs.CuDNN}
}

// failures lists what c's tag rules out. A field the tag leaves to the
// config is not held against it here.
func (cs Constraints) failures(c Candidate) []string {
	var out []string
	if cs.Variant != "" && c.Variant != cs.Variant {
		out = append(out, fmt.Sprintf("variant %s is not %s", c.Variant, cs.Variant))
	}
	if cs.OS != "" && c.OS != cs.OS {
		out = append(out, fmt.Sprintf("os %s is not %s", c.OS, cs.OS))
	}
	if cs.OSVersion != "" && c.OSVersion != cs.OSVersion {
		out = append(out, fmt.Sprintf("os-version %s is not %s", c.OSVersion, cs.OSVersion))
	}
	for _, f := range []Field{FieldFramework, FieldCUDA, FieldCuDNN} {
		con := cs.byField()[f]
		v, have := c.Versions[f]
		if !have && !c.grammar.knows(f) {
			continue
		}
		if !con.MayAllow(v) {
			out = append(out, describeFailure(f, v, con))
		}
	}
	return out
}

// VersionFailures lists what final versions (tag and config together)
// rule out.
func (cs Constraints) VersionFailures(vs map[Field]version.Version) []string {
	var out []string
	for _, f := range []Field{FieldFramework, FieldCUDA, FieldCuDNN} {
		if con := cs.byField()[f]; !con.Allows(vs[f]) {
			out = append(out, describeFailure(f, vs[f], con))
		}
	}
	return out
}

func describeFailure(f Field, v version.Version, con version.Constraint) string {
	name := string(f)
	if f == FieldFramework {
		name = "version"
	}
	if v.IsZero() {
		return fmt.Sprintf("no %s, want %s", name, con)
	}
	return fmt.Sprintf("%s %s does not satisfy %s", name, v.Raw, con)
}

// rank orders candidates best first: newest release, framework, CUDA and
// cuDNN (oldest first with resolution = "lowest"), then the preferred
// spelling, variant and OS, then the tag itself so the order is total.
func (f *Family) rank(cands []Candidate, lowest bool) {
	slices.SortStableFunc(cands, func(a, b Candidate) int {
		for _, field := range []Field{FieldRelease, FieldFramework, FieldCUDA, FieldCuDNN} {
			if c := a.Versions[field].Compare(b.Versions[field]); c != 0 {
				if lowest && !a.Versions[field].IsZero() && !b.Versions[field].IsZero() {
					return c
				}
				return -c
			}
		}
		if a.Prefer != b.Prefer {
			if a.Prefer {
				return -1
			}
			return 1
		}
		return cmp.Or(
			cmp.Compare(indexOr(f.Variants, a.Variant), indexOr(f.Variants, b.Variant)),
			cmp.Compare(indexOr(f.OSes, a.OS), indexOr(f.OSes, b.OS)),
			-version.Compare(a.OSVersion, b.OSVersion),
			strings.Compare(a.Tag, b.Tag),
		)
	})
}

func indexOr(list []string, s string) int {
	if i := slices.Index(list, s); i >= 0 {
		return i
	}
	return len(list)
}

// candidates parses tags, keeps those the constraints admit and ranks
// them; rejected holds the others with their reasons, for the "nearest"
// hint.
func (f *Family) Candidates(tags []string, cs Constraints) (ok []Candidate, rejected []Rejection) {
	for _, t := range tags {
		c, parsed := f.ParseTag(t)
		if !parsed {
			continue
		}
		if why := cs.failures(c); len(why) > 0 {
			rejected = append(rejected, Rejection{c, why})
			continue
		}
		ok = append(ok, c)
	}
	f.rank(ok, cs.Lowest)
	return ok, rejected
}

type Rejection struct {
	Candidate
	why []string
}

// Nearest picks the rejected tags that fail the fewest constraints and,
// among those, whose version is nearest the [image] version (or cuda)
// constraint, one tag per version.
func (f *Family) Nearest(rejected []Rejection, cs Constraints, n int) []Rejection {
	slices.SortStableFunc(rejected, func(a, b Rejection) int { return cmp.Compare(len(a.why), len(b.why)) })
	target, field := cs.Version, FieldFramework
	if !target.Set() {
		target, field = cs.CUDA, FieldCUDA
	}
	var out []Rejection
	seen := map[string]bool{}
	for fewest := 1; len(out) < n && fewest <= 6; fewest++ {
		var group []Candidate
		byTag := map[string]Rejection{}
		for _, r := range rejected {
			if len(r.why) == fewest {
				group = append(group, r.Candidate)
				byTag[r.Tag] = r
			}
		}
		f.rank(group, false)
		slices.SortStableFunc(group, func(a, b Candidate) int {
			return cmp.Compare(target.Distance(a.Versions[field]), target.Distance(b.Versions[field]))
		})
		for _, c := range group {
			if len(out) == n {
				break
			}
			if v := c.Versions[field].Raw; v != "" && seen[v] {
				continue
			}
			seen[c.Versions[field].Raw] = true
			out = append(out, byTag[c.Tag])
		}
	}
	return out
}
