package envimage

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mlenv/mlenv/lock"
)

// readVenvTar adds a venv read back from a container (a tar whose entries
// are under "venv/") to t at lock.VenvPath, normalized as every layer is:
// file contents are kept in spill until the layer is written; hard links
// become copies; compiled bytecode and anything but files, directories and
// symlinks are left out.
func readVenvTar(t tree, r io.Reader, spill *os.File) error {
	root := strings.Trim(lock.VenvPath, "/")
	t.dir(root)
	tr := tar.NewReader(r)
	var offset int64
	regular := map[string]*entry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the venv from the container: %w", err)
		}
		rel, ok := strings.CutPrefix(strings.Trim(h.Name, "/")+"/", "venv/")
		rel = strings.TrimSuffix(rel, "/")
		if !ok || safeName(rel) != nil || strings.Contains("/"+rel+"/", "/__pycache__/") {
			continue
		}
		name := root
		if rel != "" {
			name += "/" + rel
		}
		switch h.Typeflag {
		case tar.TypeDir:
			t.dir(name)
		case tar.TypeSymlink:
			t.add(&entry{name: name, typ: tar.TypeSymlink, mode: 0o777, linkname: h.Linkname})
		case tar.TypeLink:
			target, ok := strings.CutPrefix(strings.Trim(h.Linkname, "/"), "venv/")
			if src := regular[root+"/"+target]; ok && src != nil {
				e := *src
				e.name = name
				t.add(&e)
			}
		case tar.TypeReg:
			n, err := io.Copy(spill, tr)
			if err != nil {
				return err
			}
			e := &entry{name: name, typ: tar.TypeReg, mode: h.Mode & 0o777, size: n, open: section(spill, offset, n)}
			offset += n
			t.add(e)
			regular[name] = e
		}
	}
}

func section(f *os.File, off, n int64) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(f, off, n)), nil }
}
