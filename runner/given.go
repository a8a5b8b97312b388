package runner

import (
	"fmt"
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

// GivenGPUs reads what restricts this process. Inside a Slurm job
// (SLURM_JOB_ID set), the physical ids in SLURM_STEP_GPUS, else
// SLURM_JOB_GPUS, and none when the job was given none: Slurm's
// CUDA_VISIBLE_DEVICES numbers the job's own GPUs from 0, which the
// engine would read as the node's. Outside a job, CUDA_VISIBLE_DEVICES,
// else NVIDIA_VISIBLE_DEVICES ("all" restricts nothing; "", "none",
// "void" give none).
func GivenGPUs(lookup func(string) (string, bool)) Given {
	_, inJob := lookup("SLURM_JOB_ID")
	names := []string{"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"}
	if inJob {
		names = []string{"SLURM_STEP_GPUS", "SLURM_JOB_GPUS"}
	}
	for _, name := range names {
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
	if inJob {
		return Given{Source: "SLURM_JOB_ID"} // a job given no GPUs
	}
	return Given{}
}

// Narrow makes gpus ask for GPUs among those given: "all" and "auto" for
// exactly them, a count for the first N of them (more than were given is
// an error naming both). Explicit device ids are the user's word and stay.
func (g Given) Narrow(gpus schema.GPUs) (schema.GPUs, error) {
	if g.Source == "" {
		return gpus, nil
	}
	switch gpus.Mode() {
	case "all", "auto":
		if len(g.IDs) == 0 {
			return "none", nil
		}
		return schema.Devices(g.IDs), nil
	case "count":
		if n := gpus.Count(); n > len(g.IDs) {
			return "", fmt.Errorf("gpus = %d, but this process was given %d GPUs (%s=%s): ask for at most %d, or for more GPUs from the scheduler (sbatch --gpus=%d)",
				n, len(g.IDs), g.Source, strings.Join(g.IDs, ","), len(g.IDs), n)
		}
		if gpus.Count() == 0 {
			return "none", nil
		}
		return schema.Devices(g.IDs[:gpus.Count()]), nil
	}
	return gpus, nil
}

// Why says which GPUs a run uses and why, for the user.
func (g Given) Why(asked schema.GPUs) string {
	switch {
	case !asksGPUs(asked) && g.Source == "SLURM_JOB_ID":
		return "this Slurm job was given none (SLURM_JOB_ID is set, SLURM_JOB_GPUS is not): ask sbatch for them (--gpus=N)"
	case !asksGPUs(asked) && g.Source != "":
		return "this process was given none (" + g.Source + ")"
	case !asksGPUs(asked):
		return ""
	case g.Source != "" && asked.Mode() == "devices":
		return "GPUs " + strings.Join(asked.DeviceIDs(), ",") + ": the ones this job was given (" + g.Source + ")"
	case asked.Mode() == "all" || asked.Mode() == "auto":
		return "all GPUs: nothing restricts this process to some (no SLURM_STEP_GPUS, CUDA_VISIBLE_DEVICES or NVIDIA_VISIBLE_DEVICES)"
	}
	return ""
}
