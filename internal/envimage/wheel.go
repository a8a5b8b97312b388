package envimage

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/mlenv/mlenv/lock"
)

// venvLayout is where a wheel's parts go in the venv (the wheel format
// spec's install schemes), as paths relative to /.
type venvLayout struct {
	root, bin, sitePackages, include, python string
}

func newLayout(root, pyMajorMinor string) venvLayout {
	root = strings.Trim(root, "/")
	return venvLayout{root: root, bin: root + "/bin", python: "/" + root + "/bin/python",
		sitePackages: root + "/lib/python" + pyMajorMinor + "/site-packages",
		include:      root + "/include/site/python" + pyMajorMinor}
}

// installWheel adds the files of the wheel in zr (the locked file
// fileName) to t, as pip installs them: purelib and platlib into
// site-packages, .data's scripts into bin with their #!python line
// pointing at the venv's python, headers and data where the scheme says,
// console and GUI entry points as launchers, and a RECORD of it all with
// INSTALLER and REQUESTED.
func installWheel(t tree, l venvLayout, zr *zip.Reader, fileName string, p lock.Package) error {
	if err := checkSizes(zr, fileName); err != nil {
		return err
	}
	if err := validateWheel(zr, fileName, p); err != nil {
		return err
	}
	distInfo, dataDir, err := wheelDirs(zr, fileName)
	if err != nil {
		return err
	}
	wheelRecord, err := readRecord(zr, distInfo+"/RECORD")
	if err != nil {
		return fmt.Errorf("%s: %w", fileName, err)
	}
	var record [][]string
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		if f.Name == distInfo+"/RECORD" || f.Name == distInfo+"/INSTALLER" || f.Name == distInfo+"/REQUESTED" {
			continue
		}
		dest, script, err := destination(l, f.Name, dataDir)
		if err != nil {
			return fmt.Errorf("%s: %w", fileName, err)
		}
		row, err := addZipFile(t, f, dest, script, l.python, wheelRecord[f.Name])
		if err != nil {
			return fmt.Errorf("%s: %w", fileName, err)
		}
		record = append(record, []string{relTo(l.sitePackages, dest), row[0], row[1]})
	}
	launchers, err := entryPoints(zr, distInfo+"/entry_points.txt", l.python)
	if err != nil {
		return fmt.Errorf("%s: %w", fileName, err)
	}
	for _, name := range sortedKeys(launchers) {
		record = append(record, addBytes(t, l.bin+"/"+name, 0o755, launchers[name], l.sitePackages))
	}
	record = append(record, addBytes(t, l.sitePackages+"/"+distInfo+"/INSTALLER", 0o644, []byte("mlenv\n"), l.sitePackages))
	record = append(record, addBytes(t, l.sitePackages+"/"+distInfo+"/REQUESTED", 0o644, nil, l.sitePackages))
	record = append(record, []string{distInfo + "/RECORD", "", ""})
	slices.SortFunc(record, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.UseCRLF = false
	if err := cw.WriteAll(record); err != nil {
		return err
	}
	t.bytes(l.sitePackages+"/"+distInfo+"/RECORD", 0o644, buf.Bytes())
	return nil
}

// wheelDirs finds the wheel's .dist-info and .data directories from its
// WHEEL file.
func wheelDirs(zr *zip.Reader, fileName string) (distInfo, data string, _ error) {
	for _, f := range zr.File {
		dir, base := path.Split(f.Name)
		if base == "WHEEL" && strings.Count(f.Name, "/") == 1 && strings.HasSuffix(dir, ".dist-info/") {
			distInfo = strings.TrimSuffix(dir, "/")
			return distInfo, strings.TrimSuffix(distInfo, ".dist-info") + ".data", nil
		}
	}
	return "", "", fmt.Errorf("%s is not a wheel: it has no *.dist-info/WHEEL", fileName)
}

func safeName(name string) error {
	if strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || slices.Contains(strings.Split(name, "/"), "..") {
		return fmt.Errorf("unsafe path %q in the wheel", name)
	}
	return nil
}

// destination is where a wheel's file goes, and whether it is a script
// whose #!python line is rewritten.
func destination(l venvLayout, name, dataDir string) (string, bool, error) {
	rest, ok := strings.CutPrefix(name, dataDir+"/")
	if !ok {
		return l.sitePackages + "/" + name, false, nil
	}
	scheme, file, _ := strings.Cut(rest, "/")
	switch scheme {
	case "purelib", "platlib":
		return l.sitePackages + "/" + file, false, nil
	case "scripts":
		return l.bin + "/" + file, true, nil
	case "headers":
		return l.include + "/" + strings.SplitN(path.Base(dataDir), "-", 2)[0] + "/" + file, false, nil
	case "data":
		return l.root + "/" + file, false, nil
	}
	return "", false, fmt.Errorf("unknown install scheme %q in %s", scheme, name)
}

// Limits on a wheel's inflated contents, checked against its zip headers
// before a byte is inflated (archive/zip then refuses an entry that
// inflates to more than its header says). The largest real wheels (torch
// with CUDA, ~2.5 GB compressed) inflate to under 5 GiB, the largest file
// in them to under 2 GiB; RECORD and entry_points.txt are kilobytes.
const (
	MaxWheelInflated = 20 << 30 // bytes, all entries together
	MaxEntryInflated = 10 << 30 // bytes, one entry
	maxMetadataFile  = 64 << 20 // RECORD, entry_points.txt
	maxShebangLine   = 4 << 10  // a script's first line, as rewritten
)

// checkSizes refuses a wheel whose entries inflate past the limits.
func checkSizes(zr *zip.Reader, fileName string) error {
	var total uint64
	for _, f := range zr.File {
		if f.UncompressedSize64 > MaxEntryInflated {
			return fmt.Errorf("%s: %s inflates to %d bytes, more than mlenv installs from one wheel entry (%d): this is no real wheel", fileName, f.Name, f.UncompressedSize64, MaxEntryInflated)
		}
		if total += f.UncompressedSize64; total > MaxWheelInflated {
			return fmt.Errorf("%s inflates to more than %d bytes, more than mlenv installs from one wheel: this is no real wheel", fileName, MaxWheelInflated)
		}
	}
	return nil
}

// addZipFile adds one wheel file; it returns its RECORD hash and size,
// from the wheel's RECORD when the file is copied as it is, else hashed
// as it streams (a file is never held in memory whole).
func addZipFile(t tree, f *zip.File, dest string, script bool, python string, recorded []string) ([]string, error) {
	mode := int64(0o644)
	if f.Mode()&0o111 != 0 || script {
		mode = 0o755
	}
	open := func() (io.ReadCloser, error) { return f.Open() }
	size := int64(f.UncompressedSize64)
	if script {
		first, err := firstLine(f)
		if err != nil {
			return nil, err
		}
		if shebang := rewriteShebang(first, python); shebang != nil {
			open = func() (io.ReadCloser, error) { return replaceFirst(f, len(first), shebang) }
			size += int64(len(shebang) - len(first))
		}
	} else if len(recorded) == 2 && strings.HasPrefix(recorded[0], "sha256=") {
		t.add(&entry{name: dest, typ: tar.TypeReg, mode: mode, size: size, open: open})
		return recorded, nil
	}
	t.add(&entry{name: dest, typ: tar.TypeReg, mode: mode, size: size, open: open})
	return streamHash(open)
}

// firstLine is a script's first line, its line end included (at most
// maxShebangLine bytes: a longer line is no #!python line).
func firstLine(f *zip.File) ([]byte, error) {
	r, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	line, err := bufio.NewReaderSize(io.LimitReader(r, maxShebangLine), maxShebangLine).ReadSlice('\n')
	switch err {
	case nil, io.EOF:
		return bytes.Clone(line), nil
	case bufio.ErrBufferFull:
		return nil, nil // no #!python line: copied as it is
	}
	return nil, err
}

// replaceFirst opens f with its first n bytes replaced by line.
func replaceFirst(f *zip.File, n int, line []byte) (io.ReadCloser, error) {
	r, err := f.Open()
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
		r.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(line), r), r}, nil
}

// streamHash is the RECORD hash and size of what open reads.
func streamHash(open func() (io.ReadCloser, error)) ([]string, error) {
	r, err := open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return nil, err
	}
	return []string{"sha256=" + base64.RawURLEncoding.EncodeToString(h.Sum(nil)), fmt.Sprint(n)}, nil
}

func addBytes(t tree, dest string, mode int64, b []byte, sitePackages string) []string {
	t.bytes(dest, mode, b)
	return append([]string{relTo(sitePackages, dest)}, recordHash(b)...)
}

// recordHash is a RECORD's hash and size column for b.
func recordHash(b []byte) []string {
	sum := sha256.Sum256(b)
	return []string{"sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]), fmt.Sprint(len(b))}
}

// readRecord reads a wheel's RECORD: path → [hash, size].
func readRecord(zr *zip.Reader, name string) (map[string][]string, error) {
	f, err := zr.Open(name)
	if err != nil {
		return nil, fmt.Errorf("no %s: %w", name, err)
	}
	defer f.Close()
	rows, err := csv.NewReader(io.LimitReader(f, maxMetadataFile)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	out := map[string][]string{}
	for _, r := range rows {
		if len(r) == 3 {
			out[r[0]] = r[1:]
		}
	}
	return out, nil
}

// rewriteShebang is the venv's #!python line for a script whose first
// line is #!python (or #!pythonw), as pip rewrites it, or nil.
func rewriteShebang(first []byte, python string) []byte {
	line := strings.TrimRight(string(first), "\r\n")
	if line != "#!python" && line != "#!pythonw" && !strings.HasPrefix(line, "#!python ") && !strings.HasPrefix(line, "#!pythonw ") {
		return nil
	}
	return []byte("#!" + python + "\n")
}

// relTo is dest as RECORD writes it: relative to site-packages.
func relTo(sitePackages, dest string) string {
	from, to := strings.Split(strings.Trim(sitePackages, "/"), "/"), strings.Split(strings.Trim(dest, "/"), "/")
	common := 0
	for common < len(from) && common < len(to)-1 && from[common] == to[common] {
		common++
	}
	return strings.Repeat("../", len(from)-common) + strings.Join(to[common:], "/")
}

// launcher is pip's console-script launcher.
const launcher = `#!%s
# -*- coding: utf-8 -*-
import re
import sys
from %s import %s
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\.pyw|\.exe)?$", "", sys.argv[0])
    sys.exit(%s())
`

// entryPoints are the launchers of a wheel's console_scripts and
// gui_scripts: name → content.
func entryPoints(zr *zip.Reader, name, python string) (map[string][]byte, error) {
	f, err := zr.Open(name)
	if err != nil {
		return nil, nil // no entry points
	}
	defer f.Close()
	out := map[string][]byte{}
	section := ""
	sc := bufio.NewScanner(io.LimitReader(f, maxMetadataFile))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		case section == "console_scripts" || section == "gui_scripts":
			script, ref, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("%s: bad entry point %q", name, line)
			}
			script, ref = strings.TrimSpace(script), strings.TrimSpace(ref)
			if err := checkEntryPoint(script, ref); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			ref, _, _ = strings.Cut(ref, "[") // extras do not change the launcher
			module, attr, _ := strings.Cut(strings.TrimSpace(ref), ":")
			attr = strings.TrimSpace(attr)
			top, _, _ := strings.Cut(attr, ".")
			out[script] = fmt.Appendf(nil, launcher, python, strings.TrimSpace(module), top, attr)
		}
	}
	return out, sc.Err()
}
