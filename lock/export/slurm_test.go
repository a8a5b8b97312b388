package export

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

func slurmLock(cache string) *lock.Lock {
	h := "sha256:" + strings.Repeat("a", 64)
	env := "sha256:" + strings.Repeat("e", 64)
	return &lock.Lock{
		Image: lock.Image{Repository: "registry.example:5000/base", Digest: h,
			Platforms: []lock.Platform{{Platform: "linux/amd64", Digest: h, Config: h, EnvDigest: env, EnvConfig: h}}},
		Packages: []lock.Package{{Name: "any", Version: "1", Index: "https://pypi.org/simple", Hashes: []string{h}}},
		Run: lock.Run{Workdir: "/src", GPUs: "2", IPC: "host", ShmSize: "8g", Network: "bridge", User: "host",
			Env: map[string]string{"WANDB_MODE": "offline"}, Command: []string{"python", "train.py", "--name", "it's"}, EnvCache: cache},
	}
}

func render(t *testing.T, l *lock.Lock, so SlurmOptions) string {
	t.Helper()
	f, err := Render("slurm", l, Options{Name: "paper", Slurm: so})
	if err != nil {
		t.Fatal(err)
	}
	return f.Content["paper.sbatch"]
}

// TestSlurmScripts pins each runtime's exact command line: what pyxis and
// apptainer run cannot run here, so their lines are the test.
func TestSlurmScripts(t *testing.T) {
	l := slurmLock("registry.example:5000/team/envs")
	env := "sha256:" + strings.Repeat("e", 64)
	cases := map[string][]string{
		"docker": {
			"#SBATCH --job-name=paper\n#SBATCH --output=paper-%j.out\n#SBATCH --gpus=2\n",
			"set -euo pipefail\nexport WANDB_MODE='offline'\n",
			"    exec mlenv run --frozen --gpus '2' -- 'python' 'train.py' '--name' 'it'\\''s'\n",
			`if [ -n "$gpus" ]; then gpu_args=(--gpus "\"device=$gpus\""); fi`,
			`exec docker run --rm -v "$SLURM_SUBMIT_DIR":'/src' -w '/src' -e WANDB_MODE '--ipc' 'host' '--shm-size' '8g' --user "$(id -u):$(id -g)" -e HOME=/tmp ${gpu_args[@]+"${gpu_args[@]}"} 'registry.example:5000/team/envs@` + env + `' 'python' 'train.py' '--name' 'it'\''s'`,
		},
		"pyxis": {
			"image='registry.example:5000#team/envs@" + env + "'\n",
			"    [0-3].*) image='registry.example:5000#team/envs:" + env + "' ;;",
			`exec srun --container-image="$image" --container-mounts="$SLURM_SUBMIT_DIR":'/src' --container-workdir='/src' 'python' 'train.py' '--name' 'it'\''s'`,
		},
		"apptainer": {
			`exec apptainer exec --nv --bind "$SLURM_SUBMIT_DIR":'/src' --pwd '/src' 'docker://registry.example:5000/team/envs@` + env + `' 'python' 'train.py' '--name' 'it'\''s'`,
		},
	}
	for runtime, wants := range cases {
		script := render(t, l, SlurmOptions{Runtime: runtime})
		for _, want := range wants {
			if !strings.Contains(script, want) {
				t.Errorf("%s script lacks\n%s\nin:\n%s", runtime, want, script)
			}
		}
		shellcheck(t, runtime, script)
	}
	fromArchive := render(t, l, SlurmOptions{Runtime: "apptainer", From: "/scratch/paper-env"})
	if want := "'oci:/scratch/paper-env:mlenv-env-" + strings.Repeat("e", 64) + "'"; !strings.Contains(fromArchive, want) {
		t.Errorf("apptainer --from: want %s in\n%s", want, fromArchive)
	}
	gres := render(t, l, SlurmOptions{GRES: true, Sbatch: []string{"--partition=gpu", "--job-name=mine"}})
	if !strings.Contains(gres, "#SBATCH --gres=gpu:2\n") || strings.Contains(gres, "--job-name=paper") || !strings.Contains(gres, "#SBATCH --job-name=mine\n") || !strings.Contains(gres, "#SBATCH --partition=gpu\n") {
		t.Errorf("--gres and --sbatch overrides:\n%s", gres)
	}
}

// shellcheck runs Debian's shellcheck on a script (required in CI).
func shellcheck(t *testing.T, name, script string) {
	t.Helper()
	if _, err := exec.LookPath("shellcheck"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("shellcheck is missing: apt-get install shellcheck")
		}
		t.Logf("shellcheck not installed: %s not checked", name)
		return
	}
	path := filepath.Join(t.TempDir(), name+".sbatch")
	os.WriteFile(path, []byte(script), 0o644)
	if out, err := exec.Command("shellcheck", "--shell=bash", path).CombinedOutput(); err != nil {
		t.Errorf("shellcheck %s: %v\n%s\n%s", name, err, out, script)
	}
}

// TestSlurmNeedsWhatItRuns: errors at export time, never a script that
// fails on the cluster for a reason known now.
func TestSlurmNeedsWhatItRuns(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    *lock.Lock
		so   SlurmOptions
		want string
	}{
		{"pyxis without env-cache", slurmLock(""), SlurmOptions{Runtime: "pyxis"}, "set [run] env-cache"},
		{"apptainer without env-cache", slurmLock(""), SlurmOptions{Runtime: "apptainer"}, "set [run] env-cache"},
		{"unknown runtime", slurmLock(""), SlurmOptions{Runtime: "podman"}, "use one of docker, pyxis, apptainer"},
		{"gpus all", func() *lock.Lock { l := slurmLock("r.example/e"); l.Run.GPUs = "all"; return l }(), SlurmOptions{}, "allocates GPUs by count"},
		{"no command", func() *lock.Lock { l := slurmLock("r.example/e"); l.Run.Command = nil; return l }(), SlurmOptions{}, "set [run] command"},
		{"option with a space", slurmLock("r.example/e"), SlurmOptions{Sbatch: []string{"--partition=gpu --evil"}}, "without spaces"},
	} {
		_, err := Render("slurm", tc.l, Options{Name: "paper", Slurm: tc.so})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := Render("slurm", func() *lock.Lock { l := slurmLock(""); l.Run.GPUs = "all"; return l }(), Options{Name: "p", Slurm: SlurmOptions{Sbatch: []string{"--gpus=4"}}}); err != nil {
		t.Errorf("gpus all with --sbatch=--gpus=4: %v", err)
	}
}

// TestSlurmGPUSelection runs the script's GPU lines in bash: the job's
// GPUs for auto (none when it was given none), the first N for a count,
// an error when it was given fewer. The array is expanded in the form
// bash before 4.4 takes under set -u when it is empty.
func TestSlurmGPUSelection(t *testing.T) {
	tests := []struct {
		gpus schema.GPUs
		env  []string
		out  string
		code int
	}{
		{"auto", []string{"SLURM_JOB_GPUS=1,3"}, `--gpus "device=1,3"`, 0},
		{"auto", []string{"SLURM_STEP_GPUS=2", "SLURM_JOB_GPUS=1,2"}, `--gpus "device=2"`, 0},
		{"auto", nil, "", 0},
		{"1", []string{"SLURM_JOB_GPUS=1,3"}, `--gpus "device=1"`, 0},
		{"2", []string{"SLURM_JOB_GPUS=5"}, "", 1},
		{"1", nil, "", 1},
	}
	for _, tc := range tests {
		script := "set -euo pipefail\n" + slurmGPUs(tc.gpus) + `echo ${gpu_args[@]+"${gpu_args[@]}"}` + "\n"
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, tc.env...)
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if strings.TrimSpace(string(out)) != tc.out || code != tc.code {
			t.Errorf("gpus %s with %v: %q exit %d, want %q exit %d", tc.gpus, tc.env, out, code, tc.out, tc.code)
		}
	}
	script := render(t, slurmLock("registry.example/envs"), SlurmOptions{})
	if strings.Contains(script, ` "${gpu_args[@]}"`) || !strings.Contains(script, `${gpu_args[@]+"${gpu_args[@]}"}`) {
		t.Errorf("the script expands an array that may be empty in a form bash before 4.4 rejects under set -u:\n%s", script)
	}
}
