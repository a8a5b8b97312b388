package docker

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestContextHost(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("DOCKER_HOST", "")
	t.Setenv("DOCKER_CONTEXT", "")
	if h, err := contextHost(); h != "" || err != nil {
		t.Errorf("no config: %q %v", h, err)
	}
	meta := filepath.Join(dir, "contexts", "meta", fmt.Sprintf("%x", sha256.Sum256([]byte("gpu-box"))))
	os.MkdirAll(meta, 0o755)
	os.WriteFile(filepath.Join(meta, "meta.json"), []byte(`{"Name":"gpu-box","Endpoints":{"docker":{"Host":"ssh://me@gpu-box"}}}`), 0o644)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext":"gpu-box"}`), 0o644)
	if h, err := contextHost(); h != "ssh://me@gpu-box" || err != nil {
		t.Errorf("current context: %q %v", h, err)
	}
	t.Setenv("DOCKER_CONTEXT", "missing")
	if _, err := contextHost(); err == nil {
		t.Error("a missing context is not an error")
	}
	t.Setenv("DOCKER_HOST", "unix:///x.sock")
	if h, err := contextHost(); h != "" || err != nil {
		t.Errorf("DOCKER_HOST wins: %q %v", h, err)
	}
}
