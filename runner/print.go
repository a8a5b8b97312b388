package runner

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/lock/export"
)

// hostUserShell is user = "host" spelt for a shell, in printed commands.
const hostUserShell = "$(id -u):$(id -g)"

// PrintCommand prints the docker run command equivalent to running spec
// from l, for a README. With locked packages it runs mlenv's environment
// image, built by a first `mlenv run`.
func PrintCommand(w io.Writer, spec RunSpec, l *lock.Lock) error {
	image := l.Image.ByDigest()
	if len(l.Packages) > 0 {
		env, err := EnvFor(l, l.Image.Platforms[0].Platform, spec.Settings.PipCache)
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
	args = append(args, "-v", project+":"+r.Workdir, "-w", spec.WorkingDir())
	for _, m := range r.Mounts {
		args = append(args, "-v", m)
	}
	user, env := userEnv(r, hostUserShell)
	if user != "" {
		args = append(args, "--user", user)
	}
	for _, kv := range env {
		args = append(args, "-e", kv)
	}
	args = append(args, image)
	fmt.Fprintln(w, strings.Join(quoteAll(append(args, spec.Argv...)), " "))
	return nil
}

// quoteAll quotes each word for a POSIX shell where it needs it; the
// command is for reading and pasting, mlenv itself never runs a shell.
func quoteAll(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		switch {
		case w == hostUserShell:
			out[i] = `"` + w + `"`
		case w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%") == "":
			out[i] = w
		default:
			out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
	}
	return out
}
