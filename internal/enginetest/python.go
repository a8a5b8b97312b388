//go:build linux

package enginetest

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mlenv/mlenv/internal/filelock"
)

// The python images the tests build are Debian minbase with the system
// python3 and pip: bookworm's (python 3.11, pip 23, EXTERNALLY-MANAGED as
// in Debian and Ubuntu 24.04 based images) and bullseye's (python 3.9,
// pip 20.3, older than pip's --report).
const pythonPackages = "python3,python3-pip"

var (
	pythonMu   sync.Mutex
	pythonTags = map[string]string{}
)

// PythonImage returns the tag of a local engine image of Debian bookworm
// with real python3 and pip.
func PythonImage(t testing.TB) string { return pythonImage(t, "bookworm") }

// OldPythonImage is PythonImage with Debian bullseye's pip 20.3.
func OldPythonImage(t testing.TB) string { return pythonImage(t, "bullseye") }

// pythonImage builds the image once per machine with debootstrap (about a
// minute) and docker import; the rootfs tarball is cached by its inputs in
// MLENV_TEST_CACHE (default /var/cache/mlenv-test), so a wiped engine
// re-imports it without downloading again.
func pythonImage(t testing.TB, suite string) string {
	t.Helper()
	Engine(t)
	pythonMu.Lock()
	defer pythonMu.Unlock()
	if tag, ok := pythonTags[suite]; ok {
		return tag
	}
	tag, err := buildPython(suite)
	if err != nil {
		t.Fatalf("build the %s python test image: %v", suite, err)
	}
	pythonTags[suite] = tag
	return tag
}

func pythonKey(suite string) string {
	sum := sha256.Sum256([]byte(suite + "|minbase|" + pythonPackages + "|" + debianMirror()))
	return fmt.Sprintf("%s-%x", suite, sum[:6])
}

func buildPython(suite string) (string, error) {
	tag := "mlenv-test/python:" + pythonKey(suite)
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
	unlock, err := filelock.Lock(filepath.Join(cache, "python-"+suite+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if exec.Command("docker", "image", "inspect", tag).Run() == nil {
		return tag, nil // built by another test binary while we waited
	}
	tarball := filepath.Join(cache, "rootfs-"+pythonKey(suite)+".tar")
	if _, err := os.Stat(tarball); err != nil {
		if err := debootstrap(suite, tarball); err != nil {
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

func debootstrap(suite, tarball string) error {
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return fmt.Errorf("debootstrap is not installed (apt-get install debootstrap): %w", err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(tarball), "rootfs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("debootstrap", "--variant=minbase", "--include="+pythonPackages, suite, dir, debianMirror())
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

func tail(b []byte) string {
	s := string(b)
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}
