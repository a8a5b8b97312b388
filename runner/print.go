package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/mount"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// hostUserShell is user = "host" spelt for a shell, in printed commands.
const hostUserShell = "$(id -u):$(id -g)"

// PrintCommand prints the docker run command that this engine would run
// for spec from l, for a README: gpus = "auto" becomes --gpus all only
// where the engine (when it answers) has an NVIDIA runtime. With locked
// packages it runs mlenv's environment image, and says how a reader
// without mlenv makes the same environment.
func PrintCommand(ctx context.Context, z *Lazy, w io.Writer, spec RunSpec, l *lock.Lock) error {
	image := l.Image.ByDigest()
	if len(l.Packages) > 0 {
		env, err := EnvFor(l, l.Image.Platforms[0].Platform, spec.Settings.PipCache)
		if err != nil {
			return err
		}
		image = env.Image()
		fmt.Fprintf(w, "# %s is %s with the %d locked packages: `mlenv run` builds it from mlenv.lock;\n", image, l.PinnedReference(), len(env.Packages))
		fmt.Fprintf(w, "# without mlenv, build the same with `mlenv export dockerfile -o env && docker build -t %s env`\n", image)
	}
	r := spec.Settings
	args := []string{"docker", "run", "--rm"}
	if spec.TTY {
		args = append(args, "-it")
	}
	support, known := autoGPUs(ctx, z)
	if r.GPUs.Mode() == "auto" && !known {
		fmt.Fprintln(w, "# gpus = auto: add --gpus all where the engine serves NVIDIA GPUs (this engine did not answer)")
	}
	if asksGPUs(r.GPUs) && (r.GPUs.Mode() != "auto" || support.Serves()) {
		given := GivenGPUs(os.LookupEnv)
		narrowed, err := given.Narrow(r.GPUs)
		if err != nil {
			return err
		}
		if r.GPUs = narrowed; given.Source != "" {
			fmt.Fprintf(w, "# the GPUs this job was given (%s), not all of the machine's\n", given.Source)
		}
	}
	if support.Driver() == "cdi" && asksGPUs(r.GPUs) && r.GPUs.Mode() != "invalid" {
		for _, name := range cdiNames(r.GPUs, support.CDI) {
			args = append(args, "--device", name)
		}
		r.GPUs = "none"
	}
	args = append(args, lock.DockerRunArgs(r, support.Serves())...)
	project, _ := filepath.Abs(spec.ProjectDir)
	args = append(append(args, bindArgs(project, r.Workdir)...), "-w", spec.WorkingDir())
	caches, _ := spec.caches()
	for _, m := range caches {
		if m.Type == mount.TypeBind {
			args = append(args, bindArgs(m.Source, m.Target)...)
		} else {
			args = append(args, "-v", m.Source+":"+m.Target)
		}
	}
	for _, m := range r.Mounts {
		args = append(args, "-v", m)
	}
	for _, port := range schema.PortSpecs(r.Ports) {
		args = append(args, "-p", port)
	}
	if spec.Name != "" {
		args = append(args, "--name", spec.Name)
	}
	if spec.Detach {
		args = append(args, "-d")
	}
	user, env := spec.userEnv(hostUserShell)
	if user != "" {
		args = append(args, "--user", user)
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if given, ok := r.Env[k]; ok && given == v && l.Run.Env[k] != v {
			// Given on the command line or from the caller's environment:
			// perhaps a secret, so named, as docker run -e NAME passes it.
			fmt.Fprintf(w, "# %s is passed from your environment (set it before running this)\n", k)
			args = append(args, "-e", k)
			continue
		}
		args = append(args, "-e", kv)
	}
	args = append(args, image)
	fmt.Fprintln(w, strings.Join(quoteAll(append(args, spec.Argv...)), " "))
	return nil
}

// bindArgs mount the project at workdir: -v where docker's -v syntax can
// say the path, else --mount (a path with a colon; CSV-quoted with a
// comma).
func bindArgs(project, workdir string) []string {
	if !strings.ContainsAny(project, ":,") {
		return []string{"-v", project + ":" + workdir}
	}
	source := "source=" + project
	if strings.ContainsAny(project, ",\"") {
		source = `"` + strings.ReplaceAll(source, `"`, `""`) + `"`
	}
	return []string{"--mount", "type=bind," + source + ",target=" + workdir}
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

// autoGPUs says whether gpus = "auto" asks for GPUs on this engine (it
// has an NVIDIA runtime), and whether the engine answered at all.
func autoGPUs(ctx context.Context, z *Lazy) (support GPUSupport, known bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	e, err := z.Engine(ctx)
	if err != nil {
		return GPUSupport{}, false
	}
	s, err := e.GPUSupport(ctx)
	return s, err == nil
}
