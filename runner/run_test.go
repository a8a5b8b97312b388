package runner_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"

	"github.com/mlenv/mlenv/runner"
	"github.com/mlenv/mlenv/schema"
)

func TestContainer(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := runner.RunSpec{
		Image: "mlenv-env:abc", ProjectDir: dir, Argv: []string{"python", "train.py"},
		Settings: schema.Run{Workdir: "/src", IPC: "host", ShmSize: "1g", Network: "none", User: "host",
			Mounts: []string{"./data:/data:ro", "cachevol:/cache"}, Env: map[string]string{"B": "2", "A": "1"}},
		GPUs: "2",
	}
	cfg, hc, err := spec.Container()
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if !slices.Equal(cfg.Cmd, []string{"python", "train.py"}) || cfg.WorkingDir != "/src" || cfg.Image != "mlenv-env:abc" {
		t.Errorf("config: %+v", cfg)
	}
	if !slices.Equal(cfg.Env, []string{"A=1", "B=2", "HOME=/tmp"}) || cfg.User != fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()) {
		t.Errorf("user = %q, env = %q", cfg.User, cfg.Env)
	}
	wantMounts := []mount.Mount{
		{Type: mount.TypeBind, Source: real, Target: "/src"},
		{Type: mount.TypeBind, Source: filepath.Join(real, "data"), Target: "/data", ReadOnly: true},
		{Type: mount.TypeVolume, Source: "cachevol", Target: "/cache"},
	}
	if !slices.Equal(hc.Mounts, wantMounts) {
		t.Errorf("mounts: %+v", hc.Mounts)
	}
	// with the host's IPC namespace, /dev/shm is the host's: docker ignores
	// shm-size there and podman refuses it, so mlenv does not send it
	if !hc.AutoRemove || hc.IpcMode != "host" || hc.NetworkMode != "none" || hc.ShmSize != 0 || hc.DeviceRequests[0].Count != 2 {
		t.Errorf("host config: %+v", hc)
	}
	spec.Settings.IPC = "shareable"
	if _, hc, err := spec.Container(); err != nil || hc.ShmSize != 1<<30 || hc.IpcMode != "shareable" {
		t.Errorf("shm-size with a private IPC namespace: %d, %v", hc.ShmSize, err)
	}
}

func TestContainerRefusesMountsOutsideTheProject(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "proj")
	for _, d := range []string{dir, filepath.Join(parent, "secret")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	spec := runner.RunSpec{ProjectDir: dir, Settings: schema.Run{Workdir: "/src", Mounts: []string{"../secret:/secret"}}}
	if _, _, err := spec.Container(); err == nil || !strings.Contains(err.Error(), "--allow-outside-mounts") {
		t.Errorf("outside mount: %v", err)
	}
	spec.Settings.Mounts = []string{"./missing:/m"}
	if _, _, err := spec.Container(); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing mount: %v", err)
	}
	spec.AllowOutside, spec.Settings.Mounts = true, []string{"../secret:/secret"}
	if _, _, err := spec.Container(); err != nil {
		t.Errorf("allowed outside mount: %v", err)
	}
}

// A [run] mount outside the project needs AllowOutside; the same mount
// given on the command line (FlagMounts) does not.
func TestMountsOutsideTheProject(t *testing.T) {
	spec := runner.RunSpec{ProjectDir: t.TempDir(), Settings: schema.Run{Workdir: "/src", Mounts: []string{"/etc:/e:ro"}}}
	if _, err := runner.ContainerMounts(spec); err == nil || !strings.Contains(err.Error(), "[run] mounts") || !strings.Contains(err.Error(), "--allow-outside-mounts") {
		t.Errorf("[run] mount outside: %v", err)
	}
	spec.FlagMounts = []string{"/etc:/e:ro"}
	if m, err := runner.ContainerMounts(spec); err != nil || len(m) != 2 || m[1].Source != "/etc" {
		t.Errorf("flag mount outside: %v %v", m, err)
	}
}

// TestRunCaches: a run as the image's user gets the pip-cache volume and
// PIP_CACHE_DIR; under user = "host", HOME is the kept home directory
// (pip's cache in it) and the user site is off; [run] env wins.
func TestRunCaches(t *testing.T) {
	dir, home := t.TempDir(), t.TempDir()
	real, _ := filepath.EvalSymlinks(dir)
	spec := runner.RunSpec{ProjectDir: dir, Settings: schema.Run{Workdir: "/src", PipCache: "pipvol"}, Home: home}
	cfg, hc, err := spec.Container()
	if err != nil {
		t.Fatal(err)
	}
	want := []mount.Mount{{Type: mount.TypeBind, Source: real, Target: "/src"}, {Type: mount.TypeVolume, Source: "pipvol", Target: "/opt/mlenv/pip-cache"}}
	if !slices.Equal(hc.Mounts, want) || !slices.Equal(cfg.Env, []string{"PIP_CACHE_DIR=/opt/mlenv/pip-cache"}) {
		t.Errorf("mounts %+v, env %q", hc.Mounts, cfg.Env)
	}
	spec.Settings.User, spec.Settings.Env = "host", map[string]string{"HF_HOME": "/src/hf"}
	cfg, hc, err = spec.Container()
	if err != nil {
		t.Fatal(err)
	}
	want = []mount.Mount{{Type: mount.TypeBind, Source: real, Target: "/src"}, {Type: mount.TypeBind, Source: home, Target: runner.HomeDir}}
	if !slices.Equal(hc.Mounts, want) || !slices.Equal(cfg.Env, []string{"HF_HOME=/src/hf", "HOME=" + runner.HomeDir, "PYTHONNOUSERSITE=1"}) {
		t.Errorf("user = host: mounts %+v, env %q", hc.Mounts, cfg.Env)
	}
	spec.Settings.Env = map[string]string{"HOME": "/src"}
	if cfg, _, _ = spec.Container(); !slices.Contains(cfg.Env, "HOME=/src") || slices.Contains(cfg.Env, "HOME="+runner.HomeDir) {
		t.Errorf("[run] env HOME does not win: %q", cfg.Env)
	}
}

// TestPublishedPorts: ports bind to 127.0.0.1 unless an address is given.
func TestPublishedPorts(t *testing.T) {
	spec := runner.RunSpec{ProjectDir: t.TempDir(), Settings: schema.Run{Workdir: "/src", Ports: []string{"8888:8888", "0.0.0.0:6006:6006", "9000/udp"}}}
	cfg, hc, err := spec.Container()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for port, bindings := range hc.PortBindings {
		for _, b := range bindings {
			got = append(got, fmt.Sprintf("%s:%s->%s", b.HostIP, b.HostPort, port))
		}
	}
	slices.Sort(got)
	if want := []string{"0.0.0.0:6006->6006/tcp", "127.0.0.1:->9000/udp", "127.0.0.1:8888->8888/tcp"}; !slices.Equal(got, want) || len(cfg.ExposedPorts) != 3 {
		t.Errorf("bindings %v (exposed %v), want %v", got, cfg.ExposedPorts, want)
	}
}
