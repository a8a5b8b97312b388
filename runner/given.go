package runner

import (
	"strings"

	"github.com/mlenv/mlenv/schema"
)

// Given are the GPUs this process was given, and who said so. A container
// started through the engine escapes a job's device cgroup, so `all` must
// mean these, or it takes other people's GPUs too.
type Given struct {
	IDs    []string // physical indexes or GPU-… UUIDs; empty with Source set: none
	Source string   // the variable that said so; "" when nothing restricts
}

// GivenGPUs reads what restricts this process: inside a Slurm job the
// physical ids in SLURM_STEP_GPUS, else SLURM_JOB_GPUS; otherwise
// CUDA_VISIBLE_DEVICES, else NVIDIA_VISIBLE_DEVICES ("all" restricts
// nothing; "", "none", "void" give none).
func GivenGPUs(lookup func(string) (string, bool)) Given {
	for _, name := range []string{"SLURM_STEP_GPUS", "SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"} {
		v, ok := lookup(name)
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if v == "all" {
			return Given{}
		}
		g := Given{Source: name}
		if v != "none" && v != "void" && v != "NoDevFiles" {
			for _, id := range strings.Split(v, ",") {
				if id = strings.TrimSpace(id); id != "" {
					g.IDs = append(g.IDs, id)
				}
			}
		}
		return g
	}
	return Given{}
}

// Narrow makes gpus = "all" or "auto" ask for exactly the GPUs given;
// explicit counts and ids are the user's word and stay.
func (g Given) Narrow(gpus schema.GPUs) schema.GPUs {
	if g.Source == "" || (gpus.Mode() != "all" && gpus.Mode() != "auto") {
		return gpus
	}
	if len(g.IDs) == 0 {
		return "none"
	}
	return schema.Devices(g.IDs)
}

// Why says which GPUs a run uses and why, for the user.
func (g Given) Why(asked schema.GPUs) string {
	switch {
	case !asksGPUs(asked):
		return ""
	case g.Source != "" && asked.Mode() == "devices":
		return "GPUs " + strings.Join(asked.DeviceIDs(), ",") + ": the ones this job was given (" + g.Source + ")"
	case asked.Mode() == "all" || asked.Mode() == "auto":
		return "all GPUs: nothing restricts this process to some (no SLURM_STEP_GPUS, CUDA_VISIBLE_DEVICES or NVIDIA_VISIBLE_DEVICES)"
	}
	return ""
}
