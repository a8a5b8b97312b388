package main

import (
	"archive/tar"
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/lock"
)

// tinyRootfs is a tar of one file: enough for `docker import`.
func tinyRootfs(t *testing.T, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "etc/mlenv-test", Mode: 0o644, Size: int64(len(content))})
	tw.Write([]byte(content))
	tw.Close()
	return buf.Bytes()
}

// TestLockDigestMatchesEngine pushes an image with the real engine to
// Debian's docker-registry and checks that mlenv locks the digest the
// engine reports in RepoDigests.
func TestLockDigestMatchesEngine(t *testing.T) {
	enginetest.Engine(t)
	host := enginetest.Registry(t)
	ref := host + "/nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04"
	enginetest.Docker(t, tinyRootfs(t, t.Name()), "import",
		"-c", "ENV CUDA_VERSION=12.1.1", "-c", "ENV NV_CUDNN_VERSION=8.9.0.131", "-", ref)
	t.Cleanup(func() { enginetest.Docker(t, nil, "rmi", "-f", ref) })
	enginetest.Docker(t, nil, "push", "--quiet", ref)
	repoDigests := enginetest.Docker(t, nil, "image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", ref)

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "mlenv.toml"), "[image]\nfamily = \"cuda\"\nversion = \"~12.1\"\ncudnn = \"8\"\nregistry = \""+host+"\"\n")
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatalf("mlenv lock: exit %d: %s", r.code, r.stderr)
	}
	l, err := lock.ReadFile(filepath.Join(dir, "mlenv.lock"))
	if err != nil {
		t.Fatal(err)
	}
	want := host + "/nvidia/cuda@" + l.Image.Digest
	if !strings.Contains(repoDigests, want) {
		t.Errorf("locked %s; the engine reports RepoDigests:\n%s", want, repoDigests)
	}
	if l.Versions.CUDA != "12.1.1" || l.Versions.CuDNN != "8.9.0.131" || l.Versions.MinDriver != "530.30.02" {
		t.Errorf("versions = %+v", l.Versions)
	}
}
