package family_test

import (
	"slices"
	"testing"

	"github.com/mlenv/mlenv/resolve/family"
)

// FuzzParseTag: every family's grammar takes any tag without panicking,
// and a tag it accepts has a variant the family knows.
func FuzzParseTag(f *testing.F) {
	for _, tag := range []string{"2.1.2-cuda12.1-cudnn8-runtime", "0.4_cuda9_cudnn7", "2.1.0-gpu-py3-jupyter", "12.4.1-cudnn-devel-ubuntu22.04", "24.05-py3-igpu", "latest"} {
		f.Add(tag)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		for _, name := range family.Names() {
			fam := family.Families[name]
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
