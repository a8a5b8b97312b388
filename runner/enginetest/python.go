package enginetest

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// The python base image the tests build: Debian bookworm minbase with the
// system python3 and pip, which is EXTERNALLY-MANAGED (PEP 668), as in
// Debian and Ubuntu 24.04 based images.
const (
	pythonSuite    = "bookworm"
	pythonPackages = "python3,python3-pip"
)

var (
	pythonOnce sync.Once
	pythonTag  string
	pythonErr  error
)

// PythonImage returns the tag of a local engine image with real python3
// and pip. It is built once per machine with debootstrap (about a minute)
// and docker import; the rootfs tarball is cached by its inputs in
// MLENV_TEST_CACHE (default /var/cache/mlenv-test), so a wiped engine
// re-imports it without downloading again.
func PythonImage(t testing.TB) string {
	t.Helper()
	Engine(t)
	pythonOnce.Do(func() { pythonTag, pythonErr = buildPython() })
	if pythonErr != nil {
		t.Fatalf("build the python test image: %v", pythonErr)
	}
	return pythonTag
}

func pythonKey() string {
	sum := sha256.Sum256([]byte(pythonSuite + "|minbase|" + pythonPackages + "|" + debianMirror()))
	return fmt.Sprintf("%x", sum[:6])
}

func buildPython() (string, error) {
	tag := "mlenv-test/python:" + pythonKey()
	if exec.Command("docker", "image", "inspect", tag).Run() == nil {
		return tag, nil
	}
	cache := os.Getenv("MLENV_TEST_CACHE")
	if cache == "" {
		cache = "/var/cache/mlenv-test"
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(cache, "python.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if exec.Command("docker", "image", "inspect", tag).Run() == nil {
		return tag, nil // built by another test binary while we waited
	}
	tarball := filepath.Join(cache, "rootfs-"+pythonKey()+".tar")
	if _, err := os.Stat(tarball); err != nil {
		if err := debootstrap(tarball); err != nil {
			return "", err
		}
	}
	f, err := os.Open(tarball)
	if err != nil {
		return "", err
	}
	defer f.Close()
	imp := exec.Command("docker", "import", "-c", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "-c", `CMD ["python3"]`, "-", tag)
	imp.Stdin = f
	if out, err := imp.CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker import: %v: %s", err, out)
	}
	return tag, nil
}

func debootstrap(tarball string) error {
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return fmt.Errorf("debootstrap is not installed (apt-get install debootstrap): %w", err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(tarball), "rootfs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("debootstrap", "--variant=minbase", "--include="+pythonPackages, pythonSuite, dir, debianMirror())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("debootstrap: %v: %s", err, tail(out))
	}
	tmp := tarball + ".tmp"
	if out, err := exec.Command("tar", "-C", dir, "-cf", tmp, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar: %v: %s", err, out)
	}
	return os.Rename(tmp, tarball)
}

// debianMirror is the mirror apt uses on this machine.
func debianMirror() string {
	if m := os.Getenv("MLENV_TEST_DEBIAN_MIRROR"); m != "" {
		return m
	}
	b, _ := os.ReadFile("/etc/apt/sources.list.d/debian.sources")
	for _, line := range strings.Split(string(b), "\n") {
		if u, ok := strings.CutPrefix(line, "URIs: "); ok && !strings.Contains(u, "security") {
			return strings.TrimSpace(u)
		}
	}
	return "http://deb.debian.org/debian"
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

func tail(b []byte) string {
	s := string(b)
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}
