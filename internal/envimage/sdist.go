package envimage

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/BurntSushi/toml"
)

// DefaultBuildRequires is what pip builds a project with that names none
// (no pyproject.toml, or no [build-system] requires).
var DefaultBuildRequires = []string{"setuptools>=40.8.0", "wheel"}

// maxPyproject bounds the pyproject.toml read out of an sdist.
const maxPyproject = 1 << 20

// BuildRequires reads an sdist's [build-system] requires from its
// top-level pyproject.toml (.tar.gz or .zip), or DefaultBuildRequires.
// Requirements a build backend adds as it runs (get_requires_for_build_wheel)
// are not read.
func BuildRequires(file string) ([]string, error) {
	b, err := pyproject(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path.Base(file), err)
	}
	if b == nil {
		return DefaultBuildRequires, nil
	}
	var doc struct {
		BuildSystem *struct {
			Requires []string `toml:"requires"`
		} `toml:"build-system"`
	}
	if _, err := toml.Decode(string(b), &doc); err != nil {
		return nil, fmt.Errorf("%s: pyproject.toml: %w", path.Base(file), err)
	}
	if doc.BuildSystem == nil || doc.BuildSystem.Requires == nil {
		return DefaultBuildRequires, nil
	}
	return doc.BuildSystem.Requires, nil
}

// pyproject is the sdist's NAME-VERSION/pyproject.toml, nil without one.
func pyproject(file string) ([]byte, error) {
	isTop := func(name string) bool {
		dir, base := path.Split(strings.TrimPrefix(name, "./"))
		return base == "pyproject.toml" && strings.Count(strings.Trim(dir, "/"), "/") == 0 && dir != ""
	}
	if strings.HasSuffix(strings.ToLower(file), ".zip") {
		zr, err := zip.OpenReader(file)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		for _, f := range zr.File {
			if isTop(f.Name) {
				r, err := f.Open()
				if err != nil {
					return nil, err
				}
				defer r.Close()
				return io.ReadAll(io.LimitReader(r, maxPyproject))
			}
		}
		return nil, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg && isTop(h.Name) {
			return io.ReadAll(io.LimitReader(tr, maxPyproject))
		}
	}
}
