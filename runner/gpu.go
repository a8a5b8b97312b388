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

// GPURequests turns [run] gpus into the engine's device requests. With
// "auto", GPUs are requested only where the engine has an NVIDIA runtime;
// "auto" and "all" ask for the GPUs given (see Given), not every GPU.
func (e *Engine) GPURequests(ctx context.Context, gpus schema.GPUs, given Given) ([]container.DeviceRequest, error) {
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
	return DeviceRequests(given.Narrow(gpus)), nil
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
