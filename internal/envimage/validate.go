package envimage

import (
	"archive/zip"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/mlenv/mlenv/lock"
)

// Limits on the names in a wheel: a file name of the file systems images
// live on, and a path far above any real wheel's (torch's longest is
// under 200 bytes).
const (
	maxNameLength = 255
	maxPathLength = 1024
)

// Entry points as pip reads them (importlib.metadata's pattern, with the
// attribute pip's console scripts require), and their names as distlib's
// script maker takes them.
var (
	entryValueRe = regexp.MustCompile(`^\w+(\.\w+)*\s*:\s*\w+(\.\w+)*\s*(\[[^\]]*\])?$`)
	entryNameRe  = regexp.MustCompile(`^[\w.+-]+$`)
	projectRe    = regexp.MustCompile(`(?i)^([a-z0-9]|[a-z0-9][a-z0-9._]*[a-z0-9])-([a-z0-9!+._]+)\.dist-info$`)
)

// validateWheel refuses what pip refuses to install, before anything of
// the wheel goes into a layer: exactly one top-level .dist-info, named for
// the locked name and version; entry names with no empty, "." or ".."
// part, no backslash, within the length limits; .data files as
// <scheme>/<path> with a path.
func validateWheel(zr *zip.Reader, fileName string, p lock.Package) error {
	var distInfos []string
	for _, f := range zr.File {
		if err := checkEntryName(f.Name); err != nil {
			return fmt.Errorf("%s: %w (pip refuses it too)", fileName, err)
		}
		top, _, _ := strings.Cut(f.Name, "/")
		if strings.HasSuffix(top, ".dist-info") && !slices.Contains(distInfos, top) {
			distInfos = append(distInfos, top)
		}
	}
	if len(distInfos) != 1 {
		return fmt.Errorf("%s has %d .dist-info directories (%s), not one: it is no wheel pip installs", fileName, len(distInfos), strings.Join(distInfos, ", "))
	}
	m := projectRe.FindStringSubmatch(distInfos[0])
	if m == nil || lock.NormalizeName(m[1]) != lock.NormalizeName(p.Name) || !sameVersion(m[2], p.Version) {
		return fmt.Errorf("%s: its %s is not %s %s's: the file is not the locked package", fileName, distInfos[0], p.Name, p.Version)
	}
	data := strings.TrimSuffix(distInfos[0], ".dist-info") + ".data/"
	for _, f := range zr.File {
		rest, ok := strings.CutPrefix(f.Name, data)
		if !ok || strings.HasSuffix(f.Name, "/") {
			continue
		}
		if scheme, file, _ := strings.Cut(rest, "/"); file == "" {
			return fmt.Errorf("%s: %s is a .data entry with no path under its scheme %q (pip refuses it too)", fileName, f.Name, scheme)
		}
	}
	return nil
}

// checkEntryName refuses a zip entry name that is not a clean relative
// path of sane length (a directory's trailing slash allowed).
func checkEntryName(name string) error {
	clean := strings.TrimSuffix(name, "/")
	if len(name) > maxPathLength {
		return fmt.Errorf("an entry name of %d bytes, more than %d", len(name), maxPathLength)
	}
	if clean == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.ContainsRune(name, 0) {
		return fmt.Errorf("unsafe path %q in the wheel", name)
	}
	for _, part := range strings.Split(clean, "/") {
		switch {
		case part == "" || part == "." || part == "..":
			return fmt.Errorf("unsafe path %q in the wheel (an empty, . or .. part)", name)
		case len(part) > maxNameLength:
			return fmt.Errorf("a file name of %d bytes in %q, more than %d", len(part), name, maxNameLength)
		}
	}
	return nil
}

// checkEntryPoint refuses a console or GUI script pip would not write: a
// name that is no file name, a value that is not module:attr[.attr].
func checkEntryPoint(name, value string) error {
	if !entryNameRe.MatchString(name) || name == "." || name == ".." || len(name) > maxNameLength {
		return fmt.Errorf("entry point name %q is not a script name pip writes", name)
	}
	if !entryValueRe.MatchString(value) {
		return fmt.Errorf("entry point %s = %q is not module:attr (pip refuses it too)", name, value)
	}
	return nil
}

// sameVersion compares versions as pip does for a dist-info's name:
// case-insensitively, "_" read as "-" (the wheel name's escape).
func sameVersion(a, b string) bool {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "-") }
	return norm(a) == norm(b)
}
