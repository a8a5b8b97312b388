package registrytest

import (
	"strings"
	"testing"
)

// The images of the families as the real registries hold them, in
// miniature: real tag names of each era, configs with the real env vars.
const (
	PyTorch    = "pytorch/pytorch"
	TensorFlow = "tensorflow/tensorflow"
	CUDA       = "nvidia/cuda"
	NGCPyTorch = "nvidia/pytorch"
)

// PushFamilies fills r with the family fixtures. Runtime PyTorch tags are
// linux/amd64 + linux/arm64 indexes, devel tags amd64 manifests, as on
// Docker Hub.
func (r *Registry) PushFamilies(t testing.TB) {
	t.Helper()
	both := []string{"linux/amd64", "linux/arm64"}
	for _, tag := range []string{"2.1.0-cuda11.8-cudnn8-runtime", "2.1.0-cuda12.1-cudnn8-runtime",
		"2.1.2-cuda11.8-cudnn8-runtime", "2.1.2-cuda12.1-cudnn8-runtime", "2.7.1-cuda12.8-cudnn9-runtime",
		"1.13.1-cuda11.6-cudnn8-runtime", "2.1.2-runtime"} {
		r.PushIndex(PyTorch, tag, Image{Env: []string{"PYTORCH_VERSION=" + strings.SplitN(tag, "-", 2)[0]}}, both...)
	}
	for tag, env := range map[string][]string{
		"2.1.2-cuda12.1-cudnn8-devel": {"PYTORCH_VERSION=2.1.2", "CUDA_VERSION=12.1.1", "NV_CUDNN_VERSION=8.9.0.131"},
		"2.4.0-cuda12.4-cudnn9-devel": {"PYTORCH_VERSION=2.4.0", "CUDA_VERSION=12.4.1", "NV_CUDNN_VERSION=9.1.0.70-1"},
		"2.9.0-cuda13.0-cudnn9-devel": {"PYTORCH_VERSION=2.9.0", "CUDA_VERSION=13.0.1", "NV_CUDNN_VERSION=9.12.0.46-1"},
		"1.5-cuda10.1-cudnn7-runtime": {"CUDA_VERSION=10.1.243"},
		"0.4.1-cuda9-cudnn7-runtime":  nil,
		"0.4_cuda9_cudnn7":            nil,
		"latest":                      {"PYTORCH_VERSION=2.9.0"},
	} {
		r.Push(PyTorch, tag, Image{Env: env}.Build(t, PyTorch+":"+tag))
	}
	for tag, env := range map[string][]string{
		"2.1.0-gpu":             {"CUDA_VERSION=10.1.243"},
		"2.1.0-gpu-py3":         {"CUDA_VERSION=10.1.243", "PYTHON_VERSION=3.6.9"},
		"2.1.0-gpu-py3-jupyter": {"CUDA_VERSION=10.1.243"},
		"2.14.0-gpu":            {"CUDA_VERSION=11.8.0"},
		"2.15.0":                nil,
		"2.15.0-gpu":            {"CUDA_VERSION=12.2.0"},
		"2.15.0-gpu-jupyter":    {"CUDA_VERSION=12.2.0"},
		"latest-gpu":            {"CUDA_VERSION=12.2.0"},
		"2.16.0rc0-gpu":         {"CUDA_VERSION=12.3.0"},
	} {
		r.Push(TensorFlow, tag, Image{Env: env}.Build(t, TensorFlow+":"+tag))
	}
	for tag, im := range map[string]Image{
		"10.2-cudnn8-devel-ubuntu18.04":     {Env: []string{"CUDA_VERSION=10.2.89", "CUDNN_VERSION=8.2.4.15"}},
		"11.8.0-cudnn8-devel-ubuntu22.04":   {Env: []string{"CUDA_VERSION=11.8.0", "NV_CUDNN_VERSION=8.9.6.50"}},
		"12.1.1-cudnn8-runtime-ubuntu22.04": {Env: []string{"CUDA_VERSION=12.1.1", "NV_CUDNN_VERSION=8.9.0.131"}},
		"12.3.2-cudnn9-devel-ubuntu22.04":   {Env: []string{"CUDA_VERSION=12.3.2", "NV_CUDNN_VERSION=9.0.0.312"}},
		"12.4.1-cudnn-devel-ubuntu22.04":    {Env: []string{"CUDA_VERSION=12.4.1", "NV_CUDNN_VERSION=9.1.0.70-1"}},
		"12.6.3-cudnn-runtime-ubuntu24.04":  {Env: []string{"CUDA_VERSION=12.6.3"}, Labels: map[string]string{"com.nvidia.cudnn.version": "9.5.1.17-1"}},
		"12.6.3-runtime-ubuntu24.04":        {Env: []string{"CUDA_VERSION=12.6.3"}},
		"12.6.3-base-ubuntu24.04":           {Env: []string{"CUDA_VERSION=12.6.3"}},
		"12.6.3-runtime-ubi9":               {Env: []string{"CUDA_VERSION=12.6.3"}},
		"12.6.3-runtime-ubuntu22.04":        {Env: []string{"CUDA_VERSION=12.6.3"}},
		"13.0.1-cudnn-runtime-ubuntu24.04":  {Env: []string{"CUDA_VERSION=13.0.1", "NV_CUDNN_VERSION=9.13.0.50-1"}},
	} {
		r.Push(CUDA, tag, im.Build(t, CUDA+":"+tag))
	}
	for tag, env := range map[string][]string{
		"23.05-py3":      {"PYTORCH_VERSION=2.0.0a0+fe05266", "CUDA_VERSION=12.1.1.009", "CUDNN_VERSION=8.9.1.23", "CUDA_DRIVER_VERSION=530.30.02", "NVIDIA_PYTORCH_VERSION=23.05"},
		"23.10-py3":      {"PYTORCH_VERSION=2.1.0a0+32f93b1", "CUDA_VERSION=12.2.2.009", "CUDNN_VERSION=8.9.5.29", "CUDA_DRIVER_VERSION=535.104.05", "NVIDIA_PYTORCH_VERSION=23.10"},
		"23.12-py3":      {"PYTORCH_VERSION=2.2.0a0+81ea7a4", "CUDA_VERSION=12.3.2.001", "CUDNN_VERSION=8.9.7.29", "CUDA_DRIVER_VERSION=545.23.08", "NVIDIA_PYTORCH_VERSION=23.12"},
		"24.01-py3":      {"PYTORCH_VERSION=2.2.0a0+81ea7a4", "CUDA_VERSION=12.3.2.001", "CUDNN_VERSION=8.9.7.29", "NVIDIA_PYTORCH_VERSION=24.01"},
		"24.02-py3":      {"PYTORCH_VERSION=2.3.0a0+ebedce2", "CUDA_VERSION=12.3.2.001", "CUDNN_VERSION=9.0.0.306", "NVIDIA_PYTORCH_VERSION=24.02"},
		"24.03-py3":      {"PYTORCH_VERSION=2.3.0a0+40ec155e58", "CUDA_VERSION=12.4.0.041", "CUDNN_VERSION=9.0.0.312", "NVIDIA_PYTORCH_VERSION=24.03"},
		"24.04-py3":      {"PYTORCH_VERSION=2.3.0a0+6ddf5cf85e", "CUDA_VERSION=12.4.1.003", "CUDNN_VERSION=9.1.0.70", "NVIDIA_PYTORCH_VERSION=24.04"},
		"24.05-py3":      {"PYTORCH_VERSION=2.4.0a0+07cecf4168", "CUDA_VERSION=12.4.1.003", "CUDNN_VERSION=9.1.0.70", "NVIDIA_PYTORCH_VERSION=24.05"},
		"24.05-py3-igpu": {"PYTORCH_VERSION=2.4.0a0+07cecf4168", "CUDA_VERSION=12.4.1.003", "NVIDIA_PYTORCH_VERSION=24.05"},
		"24.06-py3":      {"PYTORCH_VERSION=2.4.0a0+f70bd71a48", "CUDA_VERSION=12.5.0.023", "CUDNN_VERSION=9.1.0.70", "NVIDIA_PYTORCH_VERSION=24.06"},
	} {
		r.Push(NGCPyTorch, tag, Image{Env: env}.Build(t, NGCPyTorch+":"+tag))
	}
}
