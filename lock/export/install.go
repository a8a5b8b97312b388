package export

import (
	"slices"

	"github.com/mlenv/mlenv/lock"
)

// The one install recipe of every export that installs (Dockerfile,
// Apptainer, devcontainer, the Kubernetes init container): create the
// venv mlenv run uses, then install exactly the locked files into it,
// hashes required (lock's recipe).

// installSteps are the argvs, in order, that install the requirements
// file at requirements (a path in the container); without cache, pip
// keeps no cache in the image.
func installSteps(requirements string, cache bool) [][]string {
	return [][]string{venvArgv, installArgv(requirements, cache)}
}

// installArgv is the locked install (lock.InstallArgv) as an argv, after
// the venv exists; without cache, pip keeps no cache in the image.
func installArgv(requirements string, cache bool) []string {
	argv := lock.InstallArgv(requirements)
	if !cache {
		argv = slices.Insert(argv, slices.Index(argv, "install")+1, "--no-cache-dir")
	}
	return argv
}

var venvArgv = lock.VenvArgv("python3")
