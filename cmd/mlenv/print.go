package main

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/lock/export"
	"github.com/mlenv/mlenv/runner"
)

// printRun prints the docker run command equivalent to this run, for a
// README. With locked packages it runs mlenv's environment image, built by
// a first `mlenv run`.
func printRun(spec runner.RunSpec, l *lock.Lock, w io.Writer) error {
	image := l.Image.Repository + "@" + l.Image.Digest
	if len(l.Packages) > 0 {
		env, err := runner.EnvFor(l, l.Image.Platforms[0].Platform, spec.Settings.PipCache)
		if err != nil {
			return err
		}
		image = env.Image()
		fmt.Fprintf(w, "# %s holds the %d locked packages; a first `mlenv run` builds it\n", image, len(env.Packages))
	}
	r := spec.Settings
	args := []string{"docker", "run", "--rm"}
	if spec.TTY {
		args = append(args, "-it")
	}
	args = append(args, export.DockerRunArgs(r, true)...)
	project, _ := filepath.Abs(spec.ProjectDir)
	args = append(args, "-v", project+":"+r.Workdir, "-w", r.Workdir)
	for _, m := range r.Mounts {
		args = append(args, "-v", m)
	}
	if r.User == "host" {
		args = append(args, "--user", "$(id -u):$(id -g)", "-e", "HOME=/tmp")
	} else if r.User != "" {
		args = append(args, "--user", r.User)
	}
	for _, kv := range envListOf(r.Env) {
		args = append(args, "-e", kv)
	}
	args = append(args, image)
	line := strings.Join(quoteAll(args), " ")
	if len(spec.Argv) > 0 {
		line += " " + strings.Join(quoteAll(spec.Argv), " ")
	}
	fmt.Fprintln(w, line)
	return nil
}

func envListOf(env map[string]string) []string {
	var out []string
	for _, k := range sortedStrings(env) {
		out = append(out, k+"="+env[k])
	}
	return out
}

func sortedStrings(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// quoteAll quotes each word for a POSIX shell where it needs it; the
// command is for reading and pasting, mlenv itself never runs a shell.
func quoteAll(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		switch {
		case w == "$(id -u):$(id -g)":
			out[i] = `"` + w + `"`
		case w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%") == "":
			out[i] = w
		default:
			out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
	}
	return out
}
