package family

import (
	"slices"
	"strings"

	"github.com/mlenv/mlenv/internal/version"
)

// Candidate is one tag of a family, with what its spelling says.
type Candidate struct {
	Tag       string
	Era       string
	Variant   string
	OS        string
	OSVersion string
	Prefer    bool // a preferred spelling among equals (TensorFlow's -py3)
	grammar   *Grammar
	// Versions holds each field the tag (or the family's table) gives,
	// with Sources saying which.
	Versions map[Field]version.Version
	Sources  map[Field]string
}

// ParseTag reads tag with the family's grammars. It returns false for a
// tag no grammar matches (floating tags such as latest, nightlies).
func (f *Family) ParseTag(tag string) (Candidate, bool) {
	for i := range f.Grammars {
		g := &f.Grammars[i]
		m := g.Pattern.FindStringSubmatch(tag)
		if m == nil {
			continue
		}
		if c, ok := f.fromMatch(g, tag, m); ok {
			return c, true
		}
	}
	return Candidate{}, false
}

func (f *Family) fromMatch(g *Grammar, tag string, m []string) (Candidate, bool) {
	c := Candidate{Tag: tag, Era: g.Era, grammar: g, Versions: map[Field]version.Version{}, Sources: map[Field]string{}}
	var variant []string
	for i, group := range g.Pattern.SubexpNames() {
		v := m[i]
		switch {
		case group == "" || v == "":
		case strings.HasPrefix(group, "variant"):
			variant = append(variant, v)
		case group == "os":
			c.OS = v
		case group == "osver":
			c.OSVersion = v
		case group == "prefer":
			c.Prefer = true
		default:
			if !c.setVersion(fieldOfGroup(group), v, "tag") {
				return Candidate{}, false
			}
		}
	}
	c.Variant = strings.Join(variant, "-")
	if g.VariantNames != nil {
		name, ok := g.VariantNames[c.Variant]
		if !ok {
			return Candidate{}, false
		}
		c.Variant = name
	}
	for field, v := range g.Fixed {
		if field == fieldVariant {
			c.Variant = v
		} else if !c.setVersion(field, v, "tag") {
			return Candidate{}, false
		}
	}
	f.applyTable(&c)
	if f.VersionField == FieldCUDA {
		c.Versions[FieldFramework] = c.Versions[FieldCUDA]
		c.Sources[FieldFramework] = c.Sources[FieldCUDA]
	}
	return c, true
}

func fieldOfGroup(group string) Field {
	if group == "version" {
		return FieldFramework
	}
	return Field(group)
}

func (c *Candidate) setVersion(f Field, raw, source string) bool {
	v, err := version.Parse(raw)
	if err != nil {
		return false
	}
	c.Versions[f] = v
	c.Sources[f] = source
	return true
}

// applyTable fills CUDA and cuDNN from the family's table of tested builds
// where the tag does not spell them.
func (f *Family) applyTable(c *Candidate) {
	if f.Table == nil || !slices.Contains(f.TableVariants, c.Variant) {
		return
	}
	fw := c.Versions[FieldFramework]
	if fw.IsZero() {
		return
	}
	row, ok := f.Table[version.MinorOf(fw)]
	if !ok {
		return
	}
	if _, have := c.Versions[FieldCUDA]; !have {
		c.setVersion(FieldCUDA, row[0], "table")
	}
	if _, have := c.Versions[FieldCuDNN]; !have {
		c.setVersion(FieldCuDNN, row[1], "table")
	}
}

// NeedsConfig reports whether the tag leaves the framework or CUDA version
// to the image's config (NGC's tags name only a release).
func (c Candidate) NeedsConfig() bool {
	return !c.grammar.knows(FieldFramework) || !c.grammar.knows(FieldCUDA)
}
