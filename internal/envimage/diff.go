package envimage

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// fileSum is what a layer says of one path.
type fileSum struct {
	kind string // file, dir, symlink, …
	mode int64
	size int64
	sum  string // content's sha256, or the link target
	attr string // owner, time, names: what normalization fixes
}

// DiffLayers lists how two stacks of layers (each applied in order, with
// whiteouts) differ, path by path: files only in one, other content, mode,
// type, link target, or owner, names and times (which a normalized layer
// has fixed). At most limit lines (0: all).
func DiffLayers(a, b []io.Reader, limit int) ([]string, error) {
	as, err := stackSums(a)
	if err != nil {
		return nil, err
	}
	bs, err := stackSums(b)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range slices.Sorted(mapKeys(as, bs)) {
		x, inA := as[p]
		y, inB := bs[p]
		switch {
		case !inB:
			out = append(out, p+": only in the first")
		case !inA:
			out = append(out, p+": only in the second")
		case x.kind != y.kind:
			out = append(out, fmt.Sprintf("%s: %s, then %s", p, x.kind, y.kind))
		case x.sum != y.sum || x.size != y.size:
			out = append(out, p+": other content")
		case x.mode != y.mode:
			out = append(out, fmt.Sprintf("%s: mode %o, then %o", p, x.mode, y.mode))
		case x.attr != y.attr:
			out = append(out, fmt.Sprintf("%s: %s, then %s", p, x.attr, y.attr))
		}
	}
	if limit > 0 && len(out) > limit {
		out = append(out[:limit], fmt.Sprintf("… and %d more", len(out)-limit))
	}
	return out, nil
}

func mapKeys(ms ...map[string]fileSum) func(func(string) bool) {
	return func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, m := range ms {
			for k := range m {
				if !seen[k] {
					seen[k] = true
					if !yield(k) {
						return
					}
				}
			}
		}
	}
}

func stackSums(layers []io.Reader) (map[string]fileSum, error) {
	out := map[string]fileSum{}
	for _, r := range layers {
		if err := sums(r, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sums applies one layer to out: its entries, and its whiteouts (.wh.NAME
// removes NAME, .wh..wh..opq empties the directory).
func sums(r io.Reader, out map[string]fileSum) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := "/" + strings.Trim(h.Name, "/")
		dir, base := path.Split(name)
		if base == ".wh..wh..opq" {
			removeUnder(out, strings.TrimSuffix(dir, "/"), false)
			continue
		}
		if gone, ok := strings.CutPrefix(base, ".wh."); ok {
			removeUnder(out, dir+gone, true)
			continue
		}
		s := fileSum{mode: h.Mode & 0o7777, size: h.Size, sum: h.Linkname,
			attr: fmt.Sprintf("owner %d:%d %s:%s, modified %s", h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime.UTC().Format("2006-01-02T15:04:05"))}
		switch h.Typeflag {
		case tar.TypeReg:
			s.kind = "file"
			hs := sha256.New()
			if _, err := io.Copy(hs, tr); err != nil {
				return err
			}
			s.sum = fmt.Sprintf("%x", hs.Sum(nil))
		case tar.TypeDir:
			s.kind = "directory"
		case tar.TypeSymlink:
			s.kind = "symlink"
		case tar.TypeLink:
			s.kind = "hard link"
		default:
			s.kind = fmt.Sprintf("type %q", h.Typeflag)
		}
		out[name] = s
	}
}

// removeUnder removes what is under dir (and dir itself, with self).
func removeUnder(m map[string]fileSum, dir string, self bool) {
	for p := range m {
		if strings.HasPrefix(p, dir+"/") || (self && p == dir) {
			delete(m, p)
		}
	}
}
