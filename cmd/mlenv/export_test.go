package main

import (
	"context"

	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
)

const exportRun = "[run]\nnetwork = \"host\"\ngpus = \"none\"\nenv = { MSG = \"it's $HOME\" }\ncommand = [\"python3\", \"-c\", \"import alpha, beta, os; print(alpha.__version__, os.environ['MSG'])\"]\n"

func exportProject(t *testing.T) (dir string, idx *pypitest.Index) {
	t.Helper()
	idx = pypitest.New(t, testWheels...)
	dir = lockedRunProject(t, idx, exportRun)
	return dir, idx
}

func exportTo(t *testing.T, dir, format string) string {
	t.Helper()
	out := t.TempDir()
	if r := mlenv(t, dir, "export", format, "-o", out); r.code != 0 {
		t.Fatalf("export %s: exit %d: %s", format, r.code, r.stderr)
	}
	return out
}

// TestExportRequirementsInstallsWithHashes: real pip installs the exported
// file with --require-hashes, and pip freeze equals the lock.
func TestExportRequirementsInstallsWithHashes(t *testing.T) {
	dir, _ := exportProject(t)
	out := exportTo(t, dir, "requirements")
	writeFile(t, filepath.Join(out, "check.py"), `import subprocess, sys
subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", "/v"], check=True)
pip = ["/v/bin/python", "-m", "pip", "--disable-pip-version-check"]
subprocess.run(pip + ["install", "--quiet", "--require-hashes", "--no-deps", "-r", "/req/requirements.lock.txt"], check=True, stdout=sys.stderr)
subprocess.run(pip + ["freeze", "--local"], check=True)
`)
	os.Chmod(out, 0o755)
	frozen := enginetest.Docker(t, nil, "run", "--rm", "--network", "host", "-v", out+":/req:ro", pythonRef(t), "python3", "/req/check.py")
	if got, want := normalizeFreeze(frozen), freezeOf(readLock(t, dir)); got != want {
		t.Errorf("freeze after installing the exported requirements:\n%s\nwant:\n%s", got, want)
	}
}

func normalizeFreeze(out string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			n, v, _ := strings.Cut(l, "==")
			lines = append(lines, strings.ToLower(strings.ReplaceAll(n, "_", "-"))+"=="+v)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestExportDockerfileBuilds: the real engine builds the exported
// Dockerfile and the image runs the locked environment.
func TestExportDockerfileBuilds(t *testing.T) {
	dir, _ := exportProject(t)
	out := exportTo(t, dir, "dockerfile")
	tag := "mlenv-test/exported:" + filepath.Base(out)
	enginetest.Docker(t, nil, "build", "--quiet", "--network", "host", "-t", tag, out)
	defer enginetest.Docker(t, nil, "rmi", "-f", tag)
	if got := enginetest.Docker(t, nil, "run", "--rm", tag); got != "1.0 it's $HOME" {
		t.Errorf("the built image's command printed %q", got)
	}
	frozen := enginetest.Docker(t, nil, "run", "--rm", tag, "python3", "-m", "pip", "freeze", "--local")
	if got, want := normalizeFreeze(frozen), freezeOf(readLock(t, dir)); got != want {
		t.Errorf("freeze in the built image:\n%s\nwant:\n%s", got, want)
	}
}

// TestExportDevcontainerUp: the Dev Container CLI brings the exported
// configuration up with the real engine and the environment is in it.
func TestExportDevcontainerUp(t *testing.T) {
	cli, err := exec.LookPath("devcontainer")
	if err != nil {
		enginetest.Missing(t, "the Dev Container CLI (npm install -g @devcontainers/cli)")
	}
	dir, _ := exportProject(t)
	// not the usual .devcontainer/: the install must find its file anyway
	if r := mlenv(t, dir, "export", "devcontainer", "-o", filepath.Join(dir, "envs", "dev")); r.code != 0 {
		t.Fatal(r.stderr)
	}
	defer func() {
		if ids := enginetest.Docker(t, nil, "ps", "-aq", "--filter", "label=devcontainer.local_folder="+dir); ids != "" {
			enginetest.Docker(t, nil, append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
	}()
	up := exec.Command(cli, "up", "--workspace-folder", dir, "--config", filepath.Join(dir, "envs", "dev", "devcontainer.json"))
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("devcontainer up: %v\n%s", err, tailString(string(out), 3000))
	}
	run := exec.Command(cli, "exec", "--workspace-folder", dir, "--config", filepath.Join(dir, "envs", "dev", "devcontainer.json"), "python3", "-c", "import alpha, beta, os; print(alpha.__version__, os.getcwd())")
	out, err := run.Output()
	if err != nil || !strings.Contains(string(out), "1.0 /src") {
		t.Errorf("devcontainer exec: %v\n%s", err, out)
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestExportComposeValidates: docker-compose reads the exported file.
func TestExportComposeValidates(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		enginetest.Missing(t, "docker-compose (apt-get install docker-compose)")
	}
	dir, _ := exportProject(t)
	out := exportTo(t, dir, "compose")
	cmd := exec.Command(bin, "-f", filepath.Join(out, "compose.yaml"), "config")
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, got)
	}
	real, _ := filepath.EvalSymlinks(dir)
	for _, want := range []string{"dockerfile: Dockerfile", "network_mode: host", "MSG:", "- " + real + ":/src"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("compose config lacks %q:\n%s", want, got)
		}
	}
	for _, f := range []string{"Dockerfile", "requirements.lock.txt"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("compose export lacks %s", f)
		}
	}
}

// TestExportK8sStrict decodes the exported manifests strictly into the
// Kubernetes API types.
func TestExportK8sStrict(t *testing.T) {
	dir, _ := exportProject(t)
	spec := filepath.Join(dir, "mlenv.toml")
	writeFile(t, spec, strings.Replace(readFile(t, spec), `gpus = "none"`, "gpus = 2\nshm-size = \"8g\"", 1))
	mustLock(t, dir)
	out := exportTo(t, dir, "k8s")
	docs := strings.Split(readFile(t, filepath.Join(out, "job.yaml")), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("want a ConfigMap and a Job, got %d documents", len(docs))
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &cm); err != nil || !strings.Contains(cm.Data["requirements.txt"], "--hash=sha256:") {
		t.Fatalf("ConfigMap: %v %+v", err, cm)
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &job); err != nil {
		t.Fatalf("Job: %v", err)
	}
	l := readLock(t, dir)
	pod := job.Spec.Template.Spec
	main := pod.Containers[0]
	if main.Image != l.Image.Repository+"@"+l.Image.Digest || pod.InitContainers[0].Image != main.Image {
		t.Errorf("images %s / %s, want the digest", main.Image, pod.InitContainers[0].Image)
	}
	if q := main.Resources.Limits["nvidia.com/gpu"]; q.String() != "2" {
		t.Errorf("gpu limit %s", q.String())
	}
	if pod.RestartPolicy != corev1.RestartPolicyNever || !pod.HostNetwork || pod.Volumes[2].Name != "pip-cache" || pod.Volumes[2].EmptyDir == nil {
		t.Errorf("pod spec: %+v", pod)
	}
	if main.Command[len(main.Command)-3] != "python3" {
		t.Errorf("command %v does not end with the [run] command", main.Command)
	}

	// On GPU nodes of a namespace; with an env-cache, nothing installs.
	writeFile(t, spec, readFile(t, spec)+"env-cache = \"registry.example/team/envs\"\n")
	mustLock(t, dir)
	r := mlenv(t, dir, "export", "k8s", "--namespace", "ml", "--node-selector", "nvidia.com/gpu.present=true",
		"--toleration", "nvidia.com/gpu:NoSchedule", "--toleration", "dedicated=ml:NoExecute")
	if r.code != 0 {
		t.Fatalf("export k8s with placement: exit %d: %s", r.code, r.stderr)
	}
	job = batchv1.Job{}
	if err := yaml.UnmarshalStrict([]byte(r.stdout), &job); err != nil {
		t.Fatalf("Job with placement: %v\n%s", err, r.stdout)
	}
	pod = job.Spec.Template.Spec
	l = readLock(t, dir)
	if job.Namespace != "ml" || pod.NodeSelector["nvidia.com/gpu.present"] != "true" || len(pod.Tolerations) != 2 ||
		pod.Tolerations[0].Key != "nvidia.com/gpu" || pod.Tolerations[0].Operator != corev1.TolerationOpExists || pod.Tolerations[0].Effect != corev1.TaintEffectNoSchedule ||
		pod.Tolerations[1].Value != "ml" || pod.Tolerations[1].Operator != corev1.TolerationOpEqual {
		t.Errorf("placement: namespace %q, selector %v, tolerations %+v", job.Namespace, pod.NodeSelector, pod.Tolerations)
	}
	if len(pod.InitContainers) != 0 || len(pod.Volumes) != 1 || pod.Containers[0].Image != "registry.example/team/envs@"+l.Image.Platforms[0].EnvDigest {
		t.Errorf("with env-cache: init %d, volumes %+v, image %s", len(pod.InitContainers), pod.Volumes, pod.Containers[0].Image)
	}
	for _, bad := range [][]string{{"--toleration", "x:Sometimes"}, {"--node-selector", "novalue"}, {"--namespace", "Bad_NS"}} {
		if r := mlenv(t, dir, append([]string{"export", "k8s"}, bad...)...); r.code != 2 {
			t.Errorf("export k8s %v: exit %d, want 2: %s", bad, r.code, r.stderr)
		}
	}
	writeFile(t, spec, strings.Replace(readFile(t, spec), "gpus = 2", `gpus = "all"`, 1))
	mustLock(t, dir)
	if r := mlenv(t, dir, "export", "k8s"); r.code != 2 || !strings.Contains(r.stderr, "set [run] gpus = N") {
		t.Errorf("export k8s with gpus all: exit %d: %s", r.code, r.stderr)
	}
}

// TestExportApptainer checks the definition file's shape and that the
// image it bootstraps from exists by digest.
func TestExportApptainer(t *testing.T) {
	dir, _ := exportProject(t)
	out := exportTo(t, dir, "apptainer")
	def := readFile(t, filepath.Join(out, "mlenv.def"))
	header, sections := parseDef(t, def)
	if header["Bootstrap"] != "docker" {
		t.Errorf("Bootstrap = %q", header["Bootstrap"])
	}
	ref, err := name.NewDigest(header["From"])
	if err != nil {
		t.Fatalf("From %q is not a digest reference: %v", header["From"], err)
	}
	if _, err := remote.Head(ref, remote.WithContext(context.Background())); err != nil {
		t.Errorf("From %s does not exist: %v", ref, err)
	}
	for _, s := range []string{"files", "post", "environment", "runscript", "labels"} {
		if _, ok := sections[s]; !ok {
			t.Errorf("no %%%s section", s)
		}
	}
	src := strings.Fields(sections["files"])[0]
	if _, err := os.Stat(filepath.Join(out, src)); err != nil {
		t.Errorf("%%files names %s, which the export did not write", src)
	}
	if !strings.Contains(sections["environment"], `export MSG='it'\''s $HOME'`) {
		t.Errorf("%%environment does not quote MSG:\n%s", sections["environment"])
	}
}

// parseDef reads an Apptainer definition: "Key: value" header lines, then
// %sections; anything else is an error.
func parseDef(t *testing.T, def string) (map[string]string, map[string]string) {
	header, sections := map[string]string{}, map[string]string{}
	current := ""
	for _, line := range strings.Split(def, "\n") {
		switch {
		case strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "":
		case strings.HasPrefix(line, "%"):
			current = strings.TrimPrefix(strings.Fields(line)[0], "%")
			sections[current] = ""
		case current != "":
			sections[current] += strings.TrimSpace(line) + "\n"
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				t.Fatalf("header line %q is not Key: value", line)
			}
			header[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return header, sections
}
