package runner

import (
	"errors"
	"maps"
	"strings"

	"github.com/mlenv/mlenv/schema"
)

// Overrides are `mlenv run`'s flags over the lock's [run] table: a value
// that is set replaces the setting; mounts and env add to it.
type Overrides struct {
	GPUs, Workdir, IPC, ShmSize, Network, User, PipCache, EnvCache string
	Mounts                                                         []string
	Ports                                                          []string // adds to [run] ports
	// Env is KEY=VALUE, or KEY alone to pass the caller's value (as
	// docker's -e KEY does; one the caller has not set is left out).
	Env []string
}

// OverrideFlags names the flag of each [run] key, so that an error about
// a setting a flag made names the flag.
var OverrideFlags = map[string]string{"run.gpus": "--gpus", "run.workdir": "--workdir", "run.mounts": "--mount", "run.env": "--env",
	"run.ipc": "--ipc", "run.shm-size": "--shm-size", "run.network": "--network", "run.user": "--user", "run.pip-cache": "--pip-cache",
	"run.env-cache": "--env-cache", "run.ports": "--publish"}

// Apply is r with o over it, checked by mlenv.toml's rules for [run];
// each problem names its flag. lookupEnv reads the caller's environment.
func (o Overrides) Apply(r schema.Run, lookupEnv func(string) (string, bool)) (schema.Run, error) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&r.Workdir, o.Workdir)
	set(&r.IPC, o.IPC)
	set(&r.ShmSize, o.ShmSize)
	set(&r.Network, o.Network)
	set(&r.User, o.User)
	set(&r.PipCache, o.PipCache)
	set(&r.EnvCache, o.EnvCache)
	if o.GPUs != "" {
		r.GPUs = schema.GPUs(o.GPUs)
		if strings.Contains(o.GPUs, ",") {
			r.GPUs = schema.Devices(strings.Split(o.GPUs, ","))
		}
	}
	r.Mounts = append(append([]string{}, r.Mounts...), o.Mounts...)
	r.Ports = append(append([]string{}, r.Ports...), o.Ports...)
	if len(o.Env) > 0 {
		env := maps.Clone(r.Env)
		if env == nil {
			env = map[string]string{}
		}
		for _, kv := range o.Env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				v, ok = lookupEnv(k)
			}
			if ok {
				env[k] = v
			}
		}
		r.Env = env
	}
	return r, flagErrors(schema.ValidateRun(r))
}

// flagErrors words [run] errors about the settings the flags made as
// errors about the flags.
func flagErrors(err error) error {
	var errs schema.Errors
	if !errors.As(err, &errs) {
		return err
	}
	for _, e := range errs {
		key := e.Key
		if strings.HasPrefix(key, "run.env.") {
			key = "run.env"
		}
		if flag, ok := OverrideFlags[key]; ok {
			e.Key = flag
		}
	}
	return errs
}
