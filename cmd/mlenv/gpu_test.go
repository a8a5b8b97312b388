package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
)

// standInTorch is a torch package that answers mlenv's probes as a CUDA
// 12.4 build of PyTorch 2.4 does, without any CUDA: installed into the
// image's own python, with its dist-info, as the real image has it.
const standInTorch = `import os, sysconfig
site = sysconfig.get_paths()["purelib"]
os.makedirs(os.path.join(site, "torch"), exist_ok=True)
with open(os.path.join(site, "torch", "__init__.py"), "w") as f:
    f.write('''__version__ = "2.4.0+cu124"
class version:
    cuda = "12.4"
class backends:
    class cudnn:
        @staticmethod
        def version():
            return 90100
class _C:
    @staticmethod
    def _cuda_getArchFlags():
        return "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90"
class cuda:
    @staticmethod
    def is_available():
        return False
    @staticmethod
    def get_arch_list():
        return []
''')
os.makedirs(os.path.join(site, "torch-2.4.0.dist-info"), exist_ok=True)
with open(os.path.join(site, "torch-2.4.0.dist-info", "METADATA"), "w") as f:
    f.write("Metadata-Version: 2.1\nName: torch\nVersion: 2.4.0\n")
`

// TestPytorchShapedImage locks a pytorch-shaped runtime image (no
// CUDA_VERSION in its config, WORKDIR /workspace, CUDA and cuDNN known
// only to torch): the lock records what torch reports, cuDNN as a version
// and the archs it has kernels for.
func TestPytorchShapedImage(t *testing.T) {
	local := enginetest.Derive(t, enginetest.PythonImage(t), "mlenv-test/pytorch-shaped:2.4.0",
		[]string{"WORKDIR /workspace", "ENV PYTORCH_VERSION=2.4.0"}, "python3", "-c", standInTorch)
	ref := enginetest.Push(t, local, enginetest.Registry(t)+"/pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime")
	idx := pypitest.New(t, testWheels...)
	dir := pipProject(t, ref, fmt.Sprintf("[pip]\npackages = [\"alpha\"]\nindex-url = %q\n", idx.URL))
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatalf("lock: %s", r.stderr)
	}
	v := readLock(t, dir).Versions
	if v.FrameworkCUDA != "12.4" || v.FrameworkCuDNN != "9.1.0" || strings.Join(v.CUDAArchs, " ") != "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90" ||
		v.Sources["cuda-archs"] != "probe" || v.CUDA != "12.4" {
		t.Errorf("versions: %+v", v)
	}
	if r := mlenv(t, dir, "show"); !strings.Contains(r.stdout, "sm_90") {
		t.Errorf("show does not list the archs:\n%s", r.stdout)
	}
}

// gpuRun is `mlenv run` printing the NVIDIA_VISIBLE_DEVICES the engine
// gave the container, with env added to mlenv's.
func gpuRun(t *testing.T, dir, host string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(mlenvBinary(t), append([]string{"--file", filepath.Join(dir, "mlenv.toml")}, args...)...)
	cmd.Env = append(cleanGPUEnv(), append(env, "DOCKER_HOST="+host)...)
	return runBinary(t, cmd)
}

// cleanGPUEnv is this process's environment without the variables that
// say which GPUs it was given.
func cleanGPUEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "SLURM_JOB_ID", "SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "DOCKER_HOST":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// TestGPUsThroughTheHook: a dockerd with nvidia-container-runtime-hook on
// its PATH (and not on mlenv's) serves --gpus; mlenv finds it there and
// the container gets exactly the GPUs asked: all, a count, ids, and inside
// a Slurm job the job's GPUs (none when it was given none, the first N for
// a count, an error for more than it was given). --print says the same.
func TestGPUsThroughTheHook(t *testing.T) {
	engine, hookLog := enginetest.NewGPUEngine(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "mlenv.toml"), fmt.Sprintf("[image]\nref = %q\n[run]\nnetwork = \"host\"\n", pythonRef(t)))
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	show := []string{"--", "python3", "-c", "import os; print(os.environ.get('NVIDIA_VISIBLE_DEVICES', 'no GPUs'))"}
	job := []string{"SLURM_JOB_ID=7", "SLURM_JOB_GPUS=1,3"}
	for _, tc := range []struct {
		env  []string
		gpus string
		want string // what the container sees, or the error
		code int
	}{
		{nil, "auto", "all", 0},
		{nil, "all", "all", 0},
		{nil, "2", "0,1", 0},
		{nil, "0,3", "0,3", 0},
		{nil, "none", "no GPUs", 0},
		{job, "auto", "1,3", 0},
		{job, "1", "1", 0},
		{job, "3", "gpus = 3, but this process was given 2 GPUs (SLURM_JOB_GPUS=1,3)", 125},
		{[]string{"SLURM_JOB_ID=7"}, "auto", "no GPUs", 0},
		{[]string{"SLURM_JOB_ID=7"}, "all", "no GPUs", 0},
	} {
		r := gpuRun(t, dir, engine.Host, tc.env, append([]string{"run", "--gpus", tc.gpus}, show...)...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("gpus %s with %v: exit %d, want %d and %q\nstdout %s\nstderr %s", tc.gpus, tc.env, r.code, tc.code, tc.want, r.stdout, r.stderr)
		}
	}
	if log := readFile(t, hookLog); !strings.Contains(log, "prestart") {
		t.Errorf("the engine did not run the hook: %q", log)
	}
	r := gpuRun(t, dir, engine.Host, nil, "run", "--gpus", "auto", "--", "true")
	if !strings.Contains(r.stderr, "Using all GPUs") || !strings.Contains(r.stderr, "nvidia-container-runtime-hook") {
		t.Errorf("auto did not say which GPUs and through what:\n%s", r.stderr)
	}
	r = gpuRun(t, dir, engine.Host, job, "run", "--gpus", "1", "--print")
	if r.code != 0 || !strings.Contains(r.stdout, `--gpus '"device=1"'`) {
		t.Errorf("--print of gpus 1 in a job given 1,3: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// the shared engine, whose PATH has no hook, serves none
	r = gpuRun(t, dir, "unix:///var/run/docker.sock", nil, append([]string{"run", "--gpus", "auto"}, show...)...)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "no GPUs" {
		t.Errorf("auto on the engine without the hook: exit %d %q\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestCDIGPUsOnPodman: podman serves GPUs by CDI; with a stand-in CDI
// spec for nvidia.com/gpu, mlenv asks for the devices by their CDI names.
// Podman's Docker-compatible API passes such requests on only in releases
// after 4.3: there the container must get the device; where the engine
// records no device request, mlenv must stop before the start (125)
// saying so, never run the command without its GPUs.
func TestCDIGPUsOnPodman(t *testing.T) {
	host := enginetest.Podman(t, enginetest.Registry(t))
	spec := "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n  - name: \"0\"\n    containerEdits:\n      env: [\"MLENV_STANDIN_GPU=0\"]\n  - name: \"1\"\n    containerEdits:\n      env: [\"MLENV_STANDIN_GPU=1\"]\n  - name: all\n    containerEdits:\n      env: [\"MLENV_STANDIN_GPU=all\"]\n"
	if err := os.MkdirAll("/etc/cdi", 0o755); err != nil {
		enginetest.Missing(t, "a writable /etc/cdi ("+err.Error()+")")
	}
	specPath := "/etc/cdi/mlenv-test-standin.yaml"
	writeFile(t, specPath, spec)
	t.Cleanup(func() { os.Remove(specPath) })
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "mlenv.toml"), fmt.Sprintf("[image]\nref = %q\n[run]\nnetwork = \"host\"\n", pythonRef(t)))
	if r := mlenv(t, dir, "lock"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	show := []string{"--", "python3", "-c", "import os; print('device', os.environ.get('MLENV_STANDIN_GPU', 'none'))"}
	for gpus, want := range map[string]string{"auto": "all", "1": "0"} {
		r := gpuRun(t, dir, host, nil, append([]string{"run", "--gpus", gpus}, show...)...)
		switch {
		case r.code == 0 && strings.Contains(r.stdout, "device "+want):
		case r.code == 125 && strings.Contains(r.stderr, "did not record the GPUs asked for") && strings.Contains(r.stderr, "nvidia.com/gpu="):
			t.Logf("gpus %s on this podman: %s", gpus, strings.TrimSpace(r.stderr))
		default:
			t.Errorf("gpus %s by CDI: exit %d, want the device %s or a clear refusal\nstdout %s\nstderr %s", gpus, r.code, want, r.stdout, r.stderr)
		}
	}
	r := gpuRun(t, dir, host, nil, "run", "--gpus", "auto", "--print")
	if !strings.Contains(r.stdout, "--device nvidia.com/gpu=all") {
		t.Errorf("--print by CDI:\n%s%s", r.stdout, r.stderr)
	}
}
