package lock

import (
	"fmt"
	"strings"

	"github.com/mlenv/mlenv/schema"
)

// The install recipe: how a lock's packages get into a container. It is
// defined here once and used by mlenv run's installer, by the resolver
// (which resolves into the same venv, so lock and run agree) and by every
// export.

// Dir holds everything mlenv puts into a container: the venv, the files
// a task is given, the mounted credentials and wheelhouse.
const Dir = "/opt/mlenv"

// Paths inside Dir that mlenv's containers and the exports use.
const (
	RequirementsPath = Dir + "/requirements.txt" // the hash-pinned requirements file
	RequestPath      = Dir + "/request.json"     // a task script's JSON request
	WheelsDir        = Dir + "/wheels"           // a vendor archive's wheelhouse, mounted
	IndexesPath      = Dir + "/indexes.txt"      // index options with credentials, mounted read-only
)

// VenvPath is where a lock's packages live inside a container: a virtual
// environment that sees the image's own packages, which works also where
// the system python is EXTERNALLY-MANAGED (PEP 668) and in conda images.
const VenvPath = Dir + "/venv"

// VenvPython is the venv's python.
const VenvPython = VenvPath + "/bin/python"

// PipCacheDir is where pip's cache volume is mounted in mlenv's own
// containers.
const PipCacheDir = Dir + "/pip-cache"

// BuildConstraintsPath is where pip's installer finds the locked build
// requirements (PIP_CONSTRAINT).
const BuildConstraintsPath = Dir + "/build-constraints.txt"

// PipEnv is the environment pip runs with in mlenv's containers: the cache
// on the volume, no prompts, no version check, no user site, no bytecode
// written by the interpreter itself.
var PipEnv = []string{
	"PIP_CACHE_DIR=" + PipCacheDir,
	"PIP_DISABLE_PIP_VERSION_CHECK=1",
	"PIP_NO_INPUT=1",
	"PYTHONDONTWRITEBYTECODE=1",
	"PYTHONNOUSERSITE=1",
}

// VenvArgs are python's arguments that create the venv.
var VenvArgs = []string{"-m", "venv", "--without-pip", "--system-site-packages", VenvPath}

// VenvArgv creates the venv with the given python.
func VenvArgv(python string) []string { return append([]string{python}, VenvArgs...) }

// InstallArgs are pip's arguments that install exactly the files of a
// hash-pinned requirements file (see Requirements): hashes required, no
// dependency resolution.
func InstallArgs(requirements string) []string {
	return []string{"--require-hashes", "--no-deps", "-r", requirements}
}

// InstallArgv installs a hash-pinned requirements file into the venv.
func InstallArgv(requirements string) []string {
	return append([]string{VenvPython, "-m", "pip", "install"}, InstallArgs(requirements)...)
}

// VenvEnv is what puts the venv first: VIRTUAL_ENV, and PATH given the
// image's own PATH.
func VenvEnv(path string) []string {
	return []string{"VIRTUAL_ENV=" + VenvPath, "PATH=" + VenvPath + "/bin:" + path}
}

// DockerRunArgs are the docker run flags for [run] ipc, shm-size, network
// and gpus. With autoAsAll, gpus "auto" asks for all GPUs (docker has no
// "auto"); otherwise it asks for none. Device ids are quoted as docker's
// --gpus wants them ("device=0,1", quotes included).
func DockerRunArgs(r Run, autoAsAll bool) []string {
	var args []string
	switch mode := r.GPUs.Mode(); {
	case mode == "all" || (mode == "auto" && autoAsAll):
		args = append(args, "--gpus", "all")
	case mode == "count":
		args = append(args, "--gpus", fmt.Sprint(r.GPUs.Count()))
	case mode == "devices":
		args = append(args, "--gpus", `"`+string(schema.Devices(r.GPUs.DeviceIDs()))+`"`)
	}
	if r.IPC != "" {
		args = append(args, "--ipc", r.IPC)
	}
	if r.ShmSize != "" {
		args = append(args, "--shm-size", r.ShmSize)
	}
	if r.Network != "" && r.Network != "bridge" {
		args = append(args, "--network", r.Network)
	}
	return args
}

// EnvRefName names an environment image in a vendor archive's OCI layout
// (org.opencontainers.image.ref.name), for oci:DIR:NAME.
func EnvRefName(envDigest string) string {
	return "mlenv-env-" + strings.TrimPrefix(envDigest, "sha256:")
}
