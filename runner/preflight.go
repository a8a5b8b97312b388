package runner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mlenv/mlenv/internal/version"
	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// Preflight checks, before a GPU run starts, what the image needs of the
// host for the GPUs requested: the NVIDIA container runtime's own rule
// (the platform's NVIDIA_REQUIRE_CUDA: a new enough driver, or one of its
// brand ranges), else the lock's minimum driver with CUDA minor-version
// compatibility; and a kernel (or PTX) for each GPU's compute capability.
// It returns warnings, or the error that stops the run. A host with no
// driver to read (a remote engine) is not judged.
func Preflight(h GPUHost, l *lock.Lock, platform string, asked schema.GPUs) (warnings []string, err error) {
	driver := h.Driver()
	if driver == "" || !asksGPUs(asked) {
		return nil, nil
	}
	gpus, _ := h.GPUs()
	gpus = requested(gpus, asked)
	pl, _ := l.Image.Platform(platform)
	if pl.RequireCUDA != "" {
		if err := checkRequirement(pl, driver, gpus); err != nil {
			return nil, err
		}
	} else if w, err := version.CheckDriver(driver, l.Versions.CUDA, l.Versions.MinDriver); err != nil {
		return nil, err
	} else if w != "" {
		warnings = append(warnings, w)
	}
	for _, g := range gpus {
		ok, jit := version.RunsOn(l.Versions.CUDAArchs, g.ComputeCap)
		switch {
		case !ok:
			return nil, fmt.Errorf("GPU %s (%s) has compute capability %s, and the locked %s has kernels for %s and no PTX for it to compile: lock a build with kernels for sm_%s (a newer framework or CUDA), or run on another GPU",
				g.Index, g.UUID, g.ComputeCap, frameworkOf(l), strings.Join(l.Versions.CUDAArchs, ", "), strings.ReplaceAll(g.ComputeCap, ".", ""))
		case jit:
			warnings = append(warnings, fmt.Sprintf("GPU %s has compute capability %s, which the locked %s has no kernels for: they are compiled from its PTX at the first start (slow once, and it needs a driver as new as the build's CUDA)", g.Index, g.ComputeCap, frameworkOf(l)))
		}
	}
	return warnings, nil
}

// checkRequirement applies the runtime's rule for each GPU's brand.
func checkRequirement(pl lock.Platform, driver string, gpus []GPU) error {
	req, err := version.ParseRequirement(pl.RequireCUDA)
	if err != nil {
		return err
	}
	brands := []string{""}
	if len(gpus) > 0 {
		brands = nil
		for _, g := range gpus {
			brands = append(brands, g.Brand)
		}
	}
	cuda := version.DriverCUDA(driver)
	for _, brand := range brands {
		if !req.Satisfied(version.Host{Driver: driver, DriverCUDA: cuda, Brand: brand}) {
			fix := "upgrade the driver"
			if want, err := version.Parse(req.CUDA()); err == nil && version.MinDriver(want) != "" {
				fix = fmt.Sprintf("upgrade the driver to %s or newer (CUDA %s)", version.MinDriver(want), req.CUDA())
			}
			return fmt.Errorf("the NVIDIA container runtime would refuse this image: it requires %q (%s), and driver %s supports CUDA %s%s: %s, or lock an image with an older CUDA",
				pl.RequireCUDA, pl.RequireSource, driver, cuda, brandNote(brand), fix)
		}
	}
	return nil
}

func brandNote(brand string) string {
	if brand == "" {
		return ""
	}
	return " on a GPU of brand " + brand
}

func frameworkOf(l *lock.Lock) string {
	if l.Versions.Framework != "" {
		return l.Versions.Framework + " " + l.Versions.FrameworkVersion
	}
	return "image"
}

// requested picks the GPUs a run asks the engine for: all, the first N,
// or those named by index or UUID.
func requested(gpus []GPU, asked schema.GPUs) []GPU {
	switch asked.Mode() {
	case "all", "auto":
		return gpus
	case "count":
		return gpus[:min(asked.Count(), len(gpus))]
	case "devices":
		var out []GPU
		for _, g := range gpus {
			if ids := asked.DeviceIDs(); slices.Contains(ids, g.Index) || slices.Contains(ids, g.UUID) {
				out = append(out, g)
			}
		}
		return out
	}
	return nil
}
