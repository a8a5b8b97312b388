package resolve_test

import (
	"slices"
	"testing"

	"github.com/mlenv/mlenv/resolve"
)

// FuzzParseTag: every family's grammar takes any tag without panicking,
// and a tag it accepts has a variant the family knows.
func FuzzParseTag(f *testing.F) {
	for _, tag := range []string{"2.1.2-cuda12.1-cudnn8-runtime", "0.4_cuda9_cudnn7", "2.1.0-gpu-py3-jupyter", "12.4.1-cudnn-devel-ubuntu22.04", "24.05-py3-igpu", "latest"} {
		f.Add(tag)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		for _, name := range resolve.FamilyNames() {
			fam := resolve.Families[name]
			c, ok := fam.ParseTag(tag)
			if !ok {
				continue
			}
			if c.Variant != "" && !slices.Contains(fam.Variants, c.Variant) {
				t.Fatalf("%s: tag %q parsed to unknown variant %q", name, tag, c.Variant)
			}
			for field, v := range c.Versions {
				if v.Sem == nil {
					t.Fatalf("%s: tag %q gave an empty %s version", name, tag, field)
				}
			}
		}
	})
}

func FuzzParseVersion(f *testing.F) {
	for _, v := range []string{"8.9.0.131", "9.1.0.70-1", "12.2.2.009", "2.1.0a0+32f93b1", "v1", ""} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := resolve.ParseVersion(s)
		if err == nil && (v.Sem == nil || v.Raw == "") {
			t.Fatalf("ParseVersion(%q) = %+v without error", s, v)
		}
	})
}
