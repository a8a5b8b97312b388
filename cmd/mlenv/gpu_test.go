package main

import (
	"fmt"
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
