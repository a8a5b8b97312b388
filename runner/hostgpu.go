package runner

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mlenv/mlenv/internal/version"
)

// GPUHost reads this machine's NVIDIA driver and GPUs. The zero GPUHost
// reads the real machine; tests point Root at recorded /sys and /proc
// files and SMI at recorded nvidia-smi output.
type GPUHost struct {
	Root string                               // "" means "/"
	SMI  func(args ...string) ([]byte, error) // nil runs nvidia-smi
}

// GPU is one GPU of the host.
type GPU struct {
	Index, UUID string
	ComputeCap  string // "9.0"
	Brand       string // as the container runtime spells it: nvidia, tesla, geforce, nvidiartx, …
}

func (h GPUHost) read(path string) ([]byte, error) {
	return os.ReadFile(filepath.Join(h.Root, path))
}

func (h GPUHost) smi(args ...string) ([]byte, error) {
	if h.SMI != nil {
		return h.SMI(args...)
	}
	return exec.Command("nvidia-smi", args...).Output()
}

// Driver is the NVIDIA driver's version, read where uv reads it, in its
// order: /sys/module/nvidia/version, /proc/driver/nvidia/version, then
// nvidia-smi; "" when there is none (no driver, or a remote engine).
func (h GPUHost) Driver() string {
	if b, err := h.read("/sys/module/nvidia/version"); err == nil {
		if v := strings.TrimSpace(string(b)); v != "" {
			return v
		}
	}
	if b, err := h.read("/proc/driver/nvidia/version"); err == nil {
		// "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 ..."
		for _, f := range strings.Fields(string(b)) {
			if v, err := version.Parse(f); err == nil && strings.Count(f, ".") >= 1 && v.Sem.Major() > 100 {
				return f
			}
		}
	}
	out, err := h.smi("--query-gpu=driver_version", "--format=csv,noheader")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

// GPUs lists the host's GPUs: index, UUID and compute capability from
// nvidia-smi's query, the brand from its report (-q), in index order.
func (h GPUHost) GPUs() ([]GPU, error) {
	out, err := h.smi("--query-gpu=index,uuid,compute_cap", "--format=csv,noheader")
	if err != nil {
		return nil, err
	}
	var gpus []GPU
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		gpus = append(gpus, GPU{Index: strings.TrimSpace(f[0]), UUID: strings.TrimSpace(f[1]), ComputeCap: strings.TrimSpace(f[2])})
	}
	if report, err := h.smi("-q"); err == nil {
		for i, brand := range brands(report) {
			if i < len(gpus) {
				gpus[i].Brand = brand
			}
		}
	}
	return gpus, nil
}

// brands reads each GPU's "Product Brand" from nvidia-smi -q, spelt as the
// container runtime's brand= conditions are ("NVIDIA RTX" → nvidiartx).
func brands(report []byte) []string {
	var out []string
	s := bufio.NewScanner(bytes.NewReader(report))
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(k) == "Product Brand" {
			out = append(out, strings.ToLower(strings.ReplaceAll(strings.TrimSpace(v), " ", "")))
		}
	}
	return out
}

// ShowsNVIDIA names what on this machine says it has NVIDIA GPUs (a
// device node, the driver's version file); "" when nothing does.
func (h GPUHost) ShowsNVIDIA() string {
	for _, p := range []string{"/dev/nvidia0", "/proc/driver/nvidia/version"} {
		if _, err := os.Stat(filepath.Join(h.Root, p)); err == nil {
			return p
		}
	}
	return ""
}
