package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/mlenv/mlenv/resolve"
	"github.com/mlenv/mlenv/schema"
)

// ErrNoGPURuntime says GPUs were asked for and the engine cannot give any.
var ErrNoGPURuntime = errors.New("GPUs were requested, but this Docker engine has no NVIDIA runtime: install the NVIDIA Container Toolkit and configure docker for it (`nvidia-ctk runtime configure --runtime=docker`, then restart docker), or run with --gpus none (gpus = \"none\" in mlenv.toml)")

// HasNVIDIARuntime reports whether the engine lists an NVIDIA runtime.
func (e *Engine) HasNVIDIARuntime(ctx context.Context) (bool, error) {
	info, err := e.sysInfo(ctx)
	if err != nil {
		return false, err
	}
	_, ok := info.Runtimes["nvidia"]
	return ok, nil
}

// GPURequests turns [run] gpus into the engine's device requests. With
// "auto", GPUs are requested only where the engine has an NVIDIA runtime.
func (e *Engine) GPURequests(ctx context.Context, gpus schema.GPUs) ([]container.DeviceRequest, error) {
	if gpus.Mode() == "none" {
		return nil, nil
	}
	has, err := e.HasNVIDIARuntime(ctx)
	if err != nil {
		return nil, err
	}
	if !has {
		if gpus.Mode() == "auto" {
			return nil, nil
		}
		return nil, ErrNoGPURuntime
	}
	return DeviceRequests(gpus), nil
}

// DeviceRequests is what `docker run --gpus` sends for a gpus setting.
func DeviceRequests(gpus schema.GPUs) []container.DeviceRequest {
	req := container.DeviceRequest{Driver: "nvidia", Capabilities: [][]string{{"gpu"}}}
	switch gpus.Mode() {
	case "none":
		return nil
	case "all", "auto":
		req.Count = -1
	case "count":
		req.Count = gpus.Count()
	default:
		req.DeviceIDs = gpus.DeviceIDs()
	}
	return []container.DeviceRequest{req}
}

// HostDriver reads the NVIDIA driver version of this machine, or "" when
// there is none to read (no driver, or a remote engine).
func HostDriver() string {
	if b, err := os.ReadFile("/proc/driver/nvidia/version"); err == nil {
		// "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 ..."
		for _, f := range strings.Fields(string(b)) {
			if v, err := resolve.ParseVersion(f); err == nil && strings.Count(f, ".") >= 1 && v.Sem.Major() > 100 {
				return f
			}
		}
	}
	out, err := exec.Command("nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

// compatMinimum is the oldest driver each CUDA major runs on through
// minor-version compatibility (NVIDIA's CUDA compatibility guide).
var compatMinimum = map[uint64]string{11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}

// CheckDriver compares a host driver with what the locked CUDA needs. It
// returns an error when the driver is too old to run it at all, and a
// warning when it runs only through minor-version compatibility (where
// PTX JIT compilation of newer code fails).
func CheckDriver(host, cuda, minDriver string) (warning string, err error) {
	if host == "" || minDriver == "" {
		return "", nil
	}
	if resolve.CompareDrivers(host, minDriver) >= 0 {
		return "", nil
	}
	cv, perr := resolve.ParseVersion(cuda)
	if perr == nil {
		if floor, ok := compatMinimum[cv.Sem.Major()]; ok && resolve.CompareDrivers(host, floor) >= 0 {
			return fmt.Sprintf("the NVIDIA driver %s is older than %s, which CUDA %s asks for; it runs through CUDA minor-version compatibility, but PTX JIT compilation of newer kernels will fail: upgrade the driver to %s or newer", host, minDriver, cuda, minDriver), nil
		}
	}
	return "", fmt.Errorf("the NVIDIA driver %s is too old for CUDA %s in this lock (it needs %s or newer): upgrade the driver, or lock an image with an older CUDA (e.g. [image] cuda = \"<%s\")", host, cuda, minDriver, majorMinor(cuda))
}

func majorMinor(v string) string {
	parts := strings.Split(v, ".")
	if len(parts) > 2 {
		parts = parts[:2]
	}
	return strings.Join(parts, ".")
}
