// Package version parses and compares the versions images report (CUDA,
// cuDNN, frameworks, drivers) and knows NVIDIA's driver requirements: the
// minimum driver per CUDA release and CUDA's minor-version compatibility.
// It is a leaf: both the lock side and the run side use it.
package version

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Version is a version as an image reports it, kept whole for the lock, with
// the semver it compares as. Four-part versions (cuDNN 8.9.0.131, NGC CUDA
// 12.2.2.009), Debian revisions (9.1.0.70-1) and PEP 440 pre-release and
// local labels (2.1.0a0+32f93b1) compare on their first three numeric parts.
type Version struct {
	Raw string
	Sem *semver.Version
}

var leadingNumbers = regexp.MustCompile(`^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?`)

// Parse reads the leading numeric release of s. It fails when s does
// not start with a number.
func Parse(s string) (Version, error) {
	m := leadingNumbers.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, fmt.Errorf("version %q does not start with a number", s)
	}
	parts := []string{m[1], "0", "0"}
	for i := 2; i <= 3; i++ {
		if m[i] != "" {
			parts[i-1] = m[i]
		}
	}
	sv, err := semver.NewVersion(strings.Join(parts, "."))
	if err != nil {
		return Version{}, fmt.Errorf("version %q: %w", s, err)
	}
	return Version{Raw: strings.TrimSpace(s), Sem: sv}, nil
}

// IsZero reports whether the version is unknown.
func (v Version) IsZero() bool { return v.Sem == nil }

// Compare orders versions; an unknown version sorts before every known one.
func (v Version) Compare(o Version) int {
	switch {
	case v.Sem == nil && o.Sem == nil:
		return 0
	case v.Sem == nil:
		return -1
	case o.Sem == nil:
		return 1
	}
	return v.Sem.Compare(o.Sem)
}

// Constraint is a parsed version constraint. "none" asks for the component
// to be absent (a CPU image has no CUDA); an empty constraint accepts all.
type Constraint struct {
	raw  string
	none bool
	c    *semver.Constraints
}

// ParseConstraint parses a semver constraint, "none" or "".
func ParseConstraint(s string) (Constraint, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return Constraint{}, nil
	case "none":
		return Constraint{raw: s, none: true}, nil
	}
	c, err := semver.NewConstraint(s)
	if err != nil {
		return Constraint{}, fmt.Errorf("constraint %q: %w", s, err)
	}
	return Constraint{raw: s, c: c}, nil
}

// String is the constraint as written.
func (c Constraint) String() string { return c.raw }

// Set reports whether the constraint says anything.
func (c Constraint) Set() bool { return c.raw != "" }

// Allows reports whether v satisfies the constraint. An unknown version
// satisfies only the empty constraint and "none".
func (c Constraint) Allows(v Version) bool {
	switch {
	case !c.Set():
		return true
	case c.none:
		return v.IsZero()
	case v.IsZero():
		return false
	}
	return c.c.Check(v.Sem)
}

// precision is how many numeric parts Raw spells, at most 3.
func (v Version) precision() int {
	m := leadingNumbers.FindStringSubmatch(v.Raw)
	n := 0
	for _, part := range m[1:] {
		if part != "" {
			n++
		}
	}
	return n
}

// MayAllow reports whether some version that v's spelling leaves open
// could satisfy the constraint: cuDNN "9" in a tag may turn out to be
// 9.1.0.70 in the config. A fully spelt version is just Allows.
func (c Constraint) MayAllow(v Version) bool {
	if c.Allows(v) || v.IsZero() || c.none || !c.Set() {
		return c.Allows(v)
	}
	p := v.precision()
	if p >= 3 {
		return false
	}
	major, minor := v.Sem.Major(), v.Sem.Minor()
	for m := uint64(0); m <= 64; m++ {
		for _, patch := range []uint64{0, 999} {
			probe := semver.New(major, m, patch, "", "")
			if p == 2 {
				probe = semver.New(major, minor, patch+m, "", "")
			}
			if c.c.Check(probe) {
				return true
			}
		}
	}
	return false
}

// MinorOf is v's major.minor, as tables keyed by release spell it.
func MinorOf(v Version) string {
	return fmt.Sprintf("%d.%d", v.Sem.Major(), v.Sem.Minor())
}

// Compare orders two version strings by their numeric release; strings
// that do not parse compare as text.
func Compare(a, b string) int {
	va, errA := Parse(a)
	vb, errB := Parse(b)
	if errA != nil || errB != nil {
		return strings.Compare(a, b)
	}
	return va.Compare(vb)
}

// Distance is how far v is from the versions the constraint names (the
// nearest of them), for ranking versions that fail it: 2.2.0 and 2.4.0
// are nearer "~2.3" than 2.7.1. An unset constraint or unknown version is
// infinitely far.
func (c Constraint) Distance(v Version) float64 {
	if !c.Set() || c.none || v.IsZero() {
		return math.Inf(1)
	}
	key := func(major, minor, patch uint64) float64 {
		return float64(major)*1e6 + float64(minor)*1e3 + float64(patch)
	}
	at := key(v.Sem.Major(), v.Sem.Minor(), v.Sem.Patch())
	best := math.Inf(1)
	for _, m := range constraintVersionRe.FindAllString(c.raw, -1) {
		t, err := Parse(m)
		if err != nil {
			continue
		}
		best = min(best, math.Abs(at-key(t.Sem.Major(), t.Sem.Minor(), t.Sem.Patch())))
	}
	return best
}

var constraintVersionRe = regexp.MustCompile(`[0-9]+(\.[0-9]+){0,2}`)
