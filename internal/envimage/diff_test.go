package envimage

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"
)

func tarOf(t *testing.T, entries ...[2]string) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: e[0], Mode: 0o644, Size: int64(len(e[1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e[1])
	}
	tw.Close()
	return &buf
}

// TestDiffLayers: a copy changed by a layer on top is compared as the
// container sees it (whiteouts applied), file by file.
func TestDiffLayers(t *testing.T) {
	built := tarOf(t, [2]string{"v/a.py", "a"}, [2]string{"v/b.py", "b"}, [2]string{"v/c.py", "c"})
	changedBase := tarOf(t, [2]string{"v/a.py", "a"}, [2]string{"v/b.py", "b"}, [2]string{"v/c.py", "c"})
	changedTop := tarOf(t, [2]string{"v/b.py", "evil"}, [2]string{"v/.wh.c.py", ""}, [2]string{"v/d.py", "d"})
	got, err := DiffLayers([]io.Reader{changedBase, changedTop}, []io.Reader{built}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := "/v/b.py: other content\n/v/c.py: only in the second\n/v/d.py: only in the first"
	if strings.Join(got, "\n") != want {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}
