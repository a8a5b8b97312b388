package envimage

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// craft is a wheel with files (name → body, in order) and a RECORD, in
// the first file's .dist-info (else hello 1.0's), that hashes only the
// files named in hashed.
func craft(t *testing.T, files [][2]string, hashed ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f[0], Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, f[1])
		if slices.Contains(hashed, f[0]) {
			fmt.Fprintf(&record, "%s,%s,%s\n", f[0], recordHash([]byte(f[1]))[0], recordHash([]byte(f[1]))[1])
		}
	}
	distInfo := "hello-1.0.dist-info"
	if top, _, _ := strings.Cut(files[0][0], "/"); strings.HasSuffix(top, ".dist-info") {
		distInfo = top
	}
	w, _ := zw.Create(distInfo + "/RECORD")
	io.WriteString(w, record.String())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var wheelFile = [2]string{"hello-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}

func entryPointsFile(lines string) [2]string {
	return [2]string{"hello-1.0.dist-info/entry_points.txt", "[console_scripts]\n" + lines + "\n"}
}

// TestRefusesWhatPipRefuses: wheels whose layout pip would not install
// are refused before a digest is recorded, naming the part.
func TestRefusesWhatPipRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files [][2]string
		want  string
	}{
		{"entry point named .", [][2]string{wheelFile, entryPointsFile(". = hello:main")}, `entry point name "."`},
		{"entry point value is code", [][2]string{wheelFile, entryPointsFile(`x = os import sep; __import__("os").system("id"); from os:sep`)}, "is not module:attr"},
		{"entry point with no attr", [][2]string{wheelFile, entryPointsFile("x = hello")}, "is not module:attr"},
		{".data/data with no path", [][2]string{wheelFile, {"hello-1.0.data/data", "x"}}, "no path under its scheme"},
		{".data/scripts with no path", [][2]string{wheelFile, {"hello-1.0.data/scripts", "x"}}, "no path under its scheme"},
		{"empty entry name", [][2]string{wheelFile, {"", "x"}}, "unsafe path"},
		{"300-byte file name", [][2]string{wheelFile, {"hello/" + strings.Repeat("a", 300), "x"}}, "file name of 300 bytes"},
		{"dist-info named ..", [][2]string{{"..-1.0.dist-info/WHEEL", "x"}}, "not hello 1.0's"},
		{"another project's dist-info", [][2]string{{"evil-1.0.dist-info/WHEEL", "x"}}, "not hello 1.0's"},
		{"two dist-infos", [][2]string{wheelFile, {"other-2.0.dist-info/WHEEL", "x"}}, "2 .dist-info directories"},
		{"./ in a name", [][2]string{wheelFile, {"hello/./x.py", "x"}}, "unsafe path"},
		{"// in a name", [][2]string{wheelFile, {"hello//x.py", "x"}}, "unsafe path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l, base := tinyLock(t, craft(t, tc.files), dir)
			_, err := Build(context.Background(), l, "linux/amd64", base, Options{Wheelhouse: dir, DigestOnly: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestRefusesInflatedSizes: an entry whose header says it inflates past
// the limit is refused before a byte is inflated.
func TestRefusesInflatedSizes(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range []string{wheelFile[0], "hello/big.bin"} {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: n, Method: zip.Store, CompressedSize64: 1, UncompressedSize64: MaxEntryInflated + 1})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte{0})
	}
	zw.Close()
	dir := t.TempDir()
	l, base := tinyLock(t, buf.Bytes(), dir)
	_, err := Build(context.Background(), l, "linux/amd64", base, Options{Wheelhouse: dir, DigestOnly: true})
	if err == nil || !strings.Contains(err.Error(), "inflates to") {
		t.Fatalf("err = %v, want the inflated size refused", err)
	}
}

// zeros is 1 GiB of zeros, deflated to about 1 MB.
func zerosWheel(t *testing.T, name string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create(wheelFile[0])
	io.WriteString(w, wheelFile[1])
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if name != "hello/zeros.bin" {
		io.WriteString(w, "#!python\n")
	}
	zero := make([]byte, 1<<20)
	for range 1 << 10 {
		w.Write(zero)
	}
	w, _ = zw.Create("hello-1.0.dist-info/RECORD")
	io.WriteString(w, "") // no hashes: mlenv hashes them
	zw.Close()
	return buf.Bytes()
}

// TestLargeEntriesStreamInBoundedMemory: 1 GiB entries with no RECORD
// hash, and a 1 GiB script whose #!python line is rewritten, are hashed
// and written as they stream: the build runs under a 600 MB data-segment
// limit (prlimit), where reading one whole would be killed.
func TestLargeEntriesStreamInBoundedMemory(t *testing.T) {
	if name := os.Getenv("MLENV_TEST_BOUNDED_ENTRY"); name != "" {
		dir := t.TempDir()
		l, base := tinyLock(t, zerosWheel(t, name), dir)
		b, err := Build(context.Background(), l, "linux/amd64", base, Options{Wheelhouse: dir, DigestOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
		return
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("prlimit (util-linux) is needed to bound the test's memory: %v", err)
	}
	for _, name := range []string{"hello/zeros.bin", "hello-1.0.data/scripts/zeros"} {
		cmd := exec.Command(prlimit, "--data=600000000", os.Args[0], "-test.run=^TestLargeEntriesStreamInBoundedMemory$", "-test.count=1")
		cmd.Env = append(os.Environ(), "MLENV_TEST_BOUNDED_ENTRY="+name, "GOMAXPROCS=2")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: a 1 GiB entry under a 600 MB limit: %v\n%s", name, err, out)
		}
	}
}
