package export

import (
	"strings"
	"testing"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

func TestDockerRunArgs(t *testing.T) {
	tests := []struct {
		gpus      schema.GPUs
		autoAsAll bool
		want      string
	}{
		{"all", false, "--gpus all --ipc host"},
		{"auto", true, "--gpus all --ipc host"},
		{"auto", false, "--ipc host"},
		{"none", true, "--ipc host"},
		{"2", false, "--gpus 2 --ipc host"},
		{"device=0,3", false, `--gpus "device=0,3" --ipc host`},
	}
	for _, tc := range tests {
		got := strings.Join(lock.DockerRunArgs(lock.Run{GPUs: tc.gpus, IPC: "host", Network: "bridge"}, tc.autoAsAll), " ")
		if got != tc.want {
			t.Errorf("gpus %s (auto as all %v): %q, want %q", tc.gpus, tc.autoAsAll, got, tc.want)
		}
	}
}

func TestK8sQuantity(t *testing.T) {
	for in, want := range map[string]string{"8g": "8Gi", "512m": "512Mi", "64k": "64Ki", "1gb": "1Gi", "100": "100"} {
		if got := k8sQuantity(in); got != want {
			t.Errorf("k8sQuantity(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRequirementsPerPlatform(t *testing.T) {
	h := "sha256:" + strings.Repeat("a", 64)
	l := &lock.Lock{
		Image: lock.Image{Repository: "r", Digest: h, Platforms: []lock.Platform{{Platform: "linux/amd64"}, {Platform: "linux/arm64"}}},
		Packages: []lock.Package{
			{Name: "any", Version: "1", Index: "http://127.0.0.1:9/simple", Hashes: []string{h}},
			{Name: "fast", Version: "1", Index: "https://pypi.org/simple", Hashes: []string{h}, Platforms: []string{"linux/arm64"}},
		},
	}
	amd, err := Requirements(l, "linux/amd64")
	if err != nil || !strings.Contains(amd, "any==1 \\\n    --hash="+h) || strings.Contains(amd, "fast==") || !strings.Contains(amd, "--trusted-host 127.0.0.1:9") {
		t.Errorf("amd64 requirements:\n%s", amd)
	}
	if arm, err := Requirements(l, "linux/arm64"); err != nil || !strings.Contains(arm, "fast==1") || !strings.Contains(arm, "--extra-index-url https://pypi.org/simple") {
		t.Errorf("arm64 requirements:\n%s", arm)
	}
	if _, err := Render("helm", l, Options{}); err == nil || !strings.Contains(err.Error(), "requirements, dockerfile") {
		t.Errorf("unknown format: %v", err)
	}
}

func TestExportPathsFollowTheOutputDirectory(t *testing.T) {
	h := "sha256:" + strings.Repeat("a", 64)
	l := &lock.Lock{
		Image:    lock.Image{Repository: "r", Digest: h, Platforms: []lock.Platform{{Platform: "linux/amd64"}}},
		Packages: []lock.Package{{Name: "six", Version: "1", Index: "https://pypi.org/simple", Hashes: []string{h}}},
		Run:      lock.Run{Workdir: "/src", Mounts: []string{"./data:/data:ro", "cache:/c", "/abs:/abs"}},
	}
	c, err := Render("compose", l, Options{OutDir: "deploy/x", ProjectDir: "../.."})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- ../..:/src", "- ../../data:/data:ro", "- cache:/c", "- /abs:/abs"} {
		if !strings.Contains(c.Content["compose.yaml"], want) {
			t.Errorf("compose lacks %q:\n%s", want, c.Content["compose.yaml"])
		}
	}
	d, err := Render("devcontainer", l, Options{OutDir: "envs/dev", ProjectDir: "../.."})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Content["devcontainer.json"], "/src/envs/dev/requirements.lock.txt") {
		t.Errorf("devcontainer install path:\n%s", d.Content["devcontainer.json"])
	}
}

// TestEnvCacheExportsInstallNothing: with [run] env-cache, every export
// runs the pushed environment by digest and has no install step; without
// it, the install variant stays.
func TestEnvCacheExportsInstallNothing(t *testing.T) {
	h := "sha256:" + strings.Repeat("a", 64)
	env := "sha256:" + strings.Repeat("e", 64)
	l := &lock.Lock{
		Image:    lock.Image{Repository: "registry.example/base", Digest: h, Platforms: []lock.Platform{{Platform: "linux/amd64", Digest: h, Config: h, EnvDigest: env, EnvConfig: h}}},
		Packages: []lock.Package{{Name: "any", Version: "1", Index: "https://pypi.org/simple", Hashes: []string{h}}},
		Run:      lock.Run{Workdir: "/src", GPUs: "1", PipCache: "mlenv-pip-cache", Command: []string{"python", "train.py"}},
	}
	ref := "registry.example/team/envs@" + env
	for _, cached := range []bool{true, false} {
		l.Run.EnvCache = ""
		if cached {
			l.Run.EnvCache = "registry.example/team/envs"
		}
		for _, format := range []string{"k8s", "compose", "devcontainer", "apptainer"} {
			f, err := Render(format, l, Options{})
			if err != nil {
				t.Fatal(err)
			}
			main := f.Content[f.Order[0]]
			install := strings.Contains(main, "pip") || strings.Contains(main, "initContainers") || strings.Contains(main, "build:") || len(f.Order) > 1
			if cached && (!strings.Contains(main, ref) || install) {
				t.Errorf("%s with env-cache: want %s and no install step:\n%s (files %v)", format, ref, main, f.Order)
			}
			if !cached && (strings.Contains(main, ref) || !install) {
				t.Errorf("%s without env-cache: want the install variant:\n%s", format, main)
			}
		}
	}
}
