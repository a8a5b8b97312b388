package family

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mlenv/mlenv/schema"
)

// Validate checks the parts of [image] that depend on the family table:
// the family name, its variants and operating systems. Errors are
// positioned in the spec's file; schema.Load takes it as a check, so they
// come in one list with the schema's own.
func Validate(s *schema.Spec) schema.Errors {
	var errs schema.Errors
	im := s.Image
	if im.Ref != "" && im.Registry != "" {
		errs = append(errs, s.Errorf("image.registry", "write the registry into ref instead, e.g. ref = \"host:5000/repo:tag\"", "registry applies to a family; ref names its own registry"))
	}
	if im.Family == "" {
		return errs
	}
	fam := Families[im.Family]
	if fam == nil {
		hint := "known families: " + strings.Join(Names(), ", ") + `; for any other image use ref = "repo:tag"`
		if g := schema.Suggest(im.Family, Names()); g != "" {
			hint = fmt.Sprintf("did you mean %q? ", g) + hint
		}
		return append(errs, s.Errorf("image.family", hint, "unknown family %q", im.Family))
	}
	if im.Variant != "" && !slices.Contains(fam.Variants, im.Variant) {
		errs = append(errs, s.Errorf("image.variant", "variants of "+fam.Name+": "+strings.Join(fam.Variants, ", "), "unknown variant %q", im.Variant))
	}
	if (im.OS != "" || im.OSVersion != "") && len(fam.OSes) == 0 {
		errs = append(errs, s.Errorf("image.os", "remove os and os-version: the "+fam.Name+" family's tags do not name an operating system", "family %s has no os choice", fam.Name))
	} else if im.OS != "" && !slices.Contains(fam.OSes, im.OS) {
		errs = append(errs, s.Errorf("image.os", "operating systems of "+fam.Name+": "+strings.Join(fam.OSes, ", "), "unknown os %q", im.OS))
	}
	return errs
}
