package runner

import (
	"context"
	"errors"

	"github.com/moby/moby/api/types/container"

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

// GPURequests turns [run] gpus into the GPUs a run asks the engine for
// ("none" for none). With "auto", GPUs are asked for only where the engine
// has an NVIDIA runtime; "auto" and "all" ask for the GPUs given (see
// Given), not every GPU.
func (e *Engine) GPURequests(ctx context.Context, gpus schema.GPUs, given Given) (schema.GPUs, error) {
	if !asksGPUs(gpus) {
		return "none", nil
	}
	has, err := e.HasNVIDIARuntime(ctx)
	if err != nil {
		return "", err
	}
	if !has {
		if gpus.Mode() == "auto" {
			return "none", nil
		}
		return "", ErrNoGPURuntime
	}
	return given.Narrow(gpus), nil
}

// asksGPUs says whether a setting asks for any GPU.
func asksGPUs(g schema.GPUs) bool { return g != "" && g.Mode() != "none" }

// DeviceRequests is what `docker run --gpus` sends for a gpus setting:
// the one place mlenv's GPUs become the engine API's.
func DeviceRequests(gpus schema.GPUs) []container.DeviceRequest {
	req := container.DeviceRequest{Driver: "nvidia", Capabilities: [][]string{{"gpu"}}}
	switch gpus.Mode() {
	case "none", "invalid":
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
