package pip

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/mlenv/mlenv/internal/indexauth"
	"github.com/mlenv/mlenv/internal/redact"
	"github.com/mlenv/mlenv/internal/task"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// mergePlatforms turns per-platform resolutions into lock entries: one
// entry for a package resolved the same (version and file hashes) on every
// platform, else one per distinct file with the platforms it is for.
func mergePlatforms(per map[string][]scriptPkg, spec *schema.Spec, base []lock.Dist) []lock.Package {
	all := make([]string, 0, len(per))
	for p := range per {
		all = append(all, p)
	}
	slices.Sort(all)
	type key struct{ name, version, hashes string }
	platforms := map[key][]string{}
	pkgs := map[key]scriptPkg{}
	for _, p := range all {
		for _, sp := range per[p] {
			k := key{lock.NormalizeName(sp.Name), sp.Version, strings.Join(slices.Sorted(slices.Values(sp.Hashes)), ",")}
			platforms[k] = append(platforms[k], p)
			pkgs[k] = sp
		}
	}
	baseVersions := map[string]string{}
	for _, d := range base {
		baseVersions[lock.NormalizeName(d.Name)] = d.Version
	}
	var out []lock.Package
	for k, sp := range pkgs {
		pl := platforms[k]
		if len(pl) == len(all) {
			pl = nil
		}
		hashes := make([]string, len(sp.Hashes))
		for i, h := range slices.Sorted(slices.Values(sp.Hashes)) {
			hashes[i] = "sha256:" + h
		}
		pkg := lock.Package{
			Name: k.name, Version: sp.Version, Requested: sp.Requested,
			Index: indexOf(sp.URL, spec), Hashes: hashes, Platforms: pl, URL: redact.URL(sp.URL),
		}
		if bv, ok := baseVersions[k.name]; ok && bv != sp.Version {
			pkg.Replaces = bv
		}
		out = append(out, pkg)
	}
	slices.SortFunc(out, func(a, b lock.Package) int {
		return strings.Compare(a.Name+"\x00"+strings.Join(a.Platforms, ","), b.Name+"\x00"+strings.Join(b.Platforms, ","))
	})
	return out
}

// indexOf names the index a file came from: the configured index on the
// file's host, else the primary index (whose files may live on another
// host, as PyPI's do). Indexes are recorded without credentials.
func indexOf(fileURL string, spec *schema.Spec) string {
	indexes := spec.Pip.PublicIndexes()
	fu, err := url.Parse(fileURL)
	if err == nil && fu.Host != "" {
		for _, idx := range indexes {
			if iu, err := url.Parse(idx); err == nil && iu.Host == fu.Host {
				return idx
			}
		}
	}
	return indexes[0]
}

// NoPythonError says the image cannot run pip.
type NoPythonError struct {
	Image  string
	Python string // set when python is there but pip is not
}

func (e *NoPythonError) Error() string {
	what := "has no python3 or python on its PATH"
	if e.Python != "" {
		what = fmt.Sprintf("has python %s but no pip", e.Python)
	}
	return fmt.Sprintf("image %s %s: [pip] needs an image with python and pip (a framework family such as pytorch or tensorflow, or a python image), or remove [pip] from mlenv.toml", e.Image, what)
}

// Error is a resolution pip refused, with pip's reason.
type Error struct {
	Reason string
	Hint   string
}

func (e *Error) Error() string {
	s := "pip could not resolve [pip]:\n" + task.Indent(e.Reason)
	if e.Hint != "" {
		s += "\n" + e.Hint
	}
	return s
}

func scriptError(in Input, r *scriptResult) error {
	switch r.Error.Kind {
	case "nopip":
		return &NoPythonError{Image: in.Image.ByDigest(), Python: r.Python}
	case "conflict":
		return &Error{Reason: r.Error.Message, Hint: "the image's own packages need other versions: relax the requirement in [pip], or choose an image whose packages fit"}
	}
	reason := pipReason(r.Error.Message)
	hint := "fix the requirement in mlenv.toml [pip] (or the requirements file) and run `mlenv lock` again"
	switch {
	case indexauth.Refused(r.Error.Message):
		hint = indexauth.Hint
	case unreachableIndex(r.Error.Message):
		hint = "the package index could not be reached: check [pip] index-url / extra-index-urls and the network (" + strings.Join(in.Spec.Pip.PublicIndexes(), ", ") + ")"
	}
	return &Error{Reason: reason, Hint: hint}
}

// pipReason keeps pip's ERROR lines and what explains them.
func pipReason(msg string) string {
	var keep []string
	for _, l := range strings.Split(msg, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "mlenv: pip ") {
			continue
		}
		keep = append(keep, t)
	}
	return task.LastLines(strings.Join(keep, "\n"), 15)
}

func unreachableIndex(msg string) bool {
	for _, s := range []string{"Failed to establish a new connection", "Connection refused", "Could not fetch URL", "Name or service not known", "Max retries exceeded"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
