//go:build linux

package enginetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// RootlessUser is the unprivileged user .ci/setup makes for rootless
// podman (with subordinate uids and gids).
const RootlessUser = "mlenv-rootless"

// Podman starts a rootful `podman system service` on a socket of its own
// for one test, trusting the test registry at registryHost over plain
// HTTP, and returns its DOCKER_HOST value (unix://…). It skips (fails in
// CI) where podman is missing.
func Podman(t testing.TB, registryHost string) string {
	t.Helper()
	return startPodman(t, registryHost, nil, nil)
}

// PodmanWithConf is Podman with more containers.conf settings (TOML
// appended to the machine's /etc/containers/containers.conf): a service
// configured as some machine's is.
func PodmanWithConf(t testing.TB, registryHost, conf string) string {
	t.Helper()
	base, err := os.ReadFile("/etc/containers/containers.conf")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "containers.conf")
	if err := os.WriteFile(path, append(append(base, '\n'), conf...), 0o644); err != nil {
		t.Fatal(err)
	}
	return startPodman(t, registryHost, append(os.Environ(), "CONTAINERS_CONF="+path), nil)
}

// Rootless is a rootless podman service and the user it runs as.
type Rootless struct {
	Host     string // DOCKER_HOST
	Uid, Gid int
	// Env is the environment the user's processes need (HOME,
	// XDG_RUNTIME_DIR, PATH, DOCKER_HOST).
	Env []string
}

// Credential runs a command as the rootless user.
func (r Rootless) Credential() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(r.Uid), Gid: uint32(r.Gid)}}
}

// RootlessPodman starts `podman system service` as RootlessUser, as a user
// of a shared server would run it (host networking only: rootless podman
// has no bridge of its own here).
func RootlessPodman(t testing.TB, registryHost string) Rootless {
	t.Helper()
	u, err := user.Lookup(RootlessUser)
	if err != nil {
		Missing(t, "the user "+RootlessUser+" for rootless podman (.ci/setup makes it)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	runtime, err := os.MkdirTemp("", "mlenv-rootless-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runtime) })
	os.Chown(runtime, uid, gid)
	env := []string{"HOME=" + u.HomeDir, "XDG_RUNTIME_DIR=" + runtime, "PATH=" + os.Getenv("PATH")}
	r := Rootless{Uid: uid, Gid: gid}
	r.Host = startPodman(t, registryHost, env, r.Credential())
	r.Env = append(env, "DOCKER_HOST="+r.Host)
	return r
}

func startPodman(t testing.TB, registryHost string, env []string, cred *syscall.SysProcAttr) string {
	bin, err := exec.LookPath("podman")
	if err != nil {
		Missing(t, "podman (Debian's podman)")
	}
	conf := "/etc/containers/registries.conf.d/mlenv-test.conf"
	entry := fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", registryHost)
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		Missing(t, "a writable /etc/containers ("+err.Error()+")")
	}
	if err := os.WriteFile(conf, []byte(entry), 0o644); err != nil {
		Missing(t, "a writable /etc/containers ("+err.Error()+")")
	}
	dir, err := os.MkdirTemp("", "mlenv-podman-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		os.Chown(dir, int(cred.Credential.Uid), int(cred.Credential.Gid))
	}
	sock := filepath.Join(dir, "podman.sock")
	cmd := exec.Command(bin, "system", "service", "--time=0", "unix://"+sock)
	if env != nil {
		cmd.Env = env
	}
	cmd.SysProcAttr = cred
	log, err := os.Create(filepath.Join(t.TempDir(), "podman.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		Missing(t, "podman system service ("+err.Error()+")")
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	host := "unix://" + sock
	c, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := c.Ping(context.Background(), client.PingOptions{}); err == nil {
			return host
		}
		if time.Now().After(end) {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("podman system service did not answer on %s:\n%s", sock, b)
		}
	}
}
