package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mlenv/mlenv/internal/enginetest"
	"github.com/mlenv/mlenv/internal/pypitest"
)

// kube is kubectl against the one-node cluster `.ci/setup` starts, in a
// namespace of the test's own (deleted when it ends).
type kube struct {
	t         *testing.T
	namespace string
}

// testCluster is the API server .ci/k8s/up starts.
const testCluster = "https://127.0.0.1:6443"

func kubernetes(t *testing.T) *kube {
	t.Helper()
	if _, err := exec.LookPath("kubectl"); err != nil {
		enginetest.Missing(t, "kubectl and a Kubernetes node")
	}
	// Only the test cluster: never a cluster a developer's kubeconfig
	// names (the tests make namespaces and hostPath volumes).
	if server, err := exec.Command("kubectl", "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}").Output(); err != nil || string(server) != testCluster {
		enginetest.Missing(t, fmt.Sprintf("the test cluster at %s (.ci/k8s/up; kubectl's context names %q)", testCluster, server))
	}
	if out, err := exec.Command("kubectl", "get", "nodes", "--no-headers").CombinedOutput(); err != nil || !bytes.Contains(out, []byte(" Ready")) {
		enginetest.Missing(t, fmt.Sprintf("a Ready Kubernetes node (kubectl get nodes: %v %s)", err, out))
	}
	k := &kube{t: t, namespace: fmt.Sprintf("mlenv-test-%d", time.Now().UnixNano()%1e9)}
	k.run(nil, "create", "namespace", k.namespace)
	t.Cleanup(func() { _ = exec.Command("kubectl", "delete", "namespace", k.namespace, "--wait=false").Run() })
	return k
}

// try runs kubectl in the namespace, stdin from in.
func (k *kube) try(in []byte, args ...string) (string, error) {
	cmd := exec.Command("kubectl", append([]string{"--namespace", k.namespace}, args...)...)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (k *kube) run(in []byte, args ...string) string {
	k.t.Helper()
	out, err := k.try(in, args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// job applies an export and waits for its Job to complete or fail; it
// returns the condition reached, the pod's log and how long it took.
func (k *kube) job(yaml, name string) (string, string, time.Duration) {
	k.t.Helper()
	start := time.Now()
	k.run([]byte(yaml), "apply", "-f", "-")
	deadline := start.Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		conds := k.run(nil, "get", "job", name, "-o", `jsonpath={range .status.conditions[?(@.status=="True")]}{.type} {end}`)
		for _, c := range strings.Fields(conds) {
			if c == "Complete" || c == "Failed" {
				took := time.Since(start)
				logs, _ := k.try(nil, "logs", "job/"+name)
				return c, logs, took
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	pods, _ := k.try(nil, "describe", "pods", "-l", "job-name="+name)
	k.t.Fatalf("job %s neither completed nor failed in 3 minutes:\n%s", name, pods)
	return "", "", 0
}

// pod is one field of the Job's pod, by JSONPath.
func (k *kube) pod(job, path string) string {
	k.t.Helper()
	return k.run(nil, "get", "pods", "-l", "job-name="+job, "-o", "jsonpath={.items[0]"+path+"}")
}

const k8sTrain = `import beta, os, sys
print("trained from", os.getcwd(), "with beta", beta.__version__, "on GPUs", os.environ.get("NVIDIA_VISIBLE_DEVICES", "none"), "files", sorted(os.listdir(".")))
sys.exit(int(open("exit-code").read()) if os.path.exists("exit-code") else 0)
`

var k8sRanRe = regexp.MustCompile(`trained from /src with beta 1\.0 on GPUs (\S+) files (.*)`)

// TestKubernetesRunsTheProjectImage: on a real one-node cluster, the
// exported Job pulls the project image by digest from a registry, runs
// the project's own file with nothing installed and completes; a command
// that exits 3 leaves the Job failed with exit code 3; a Job asking for 2
// GPUs gets exactly the 2 devices the device plugin allocated.
func TestKubernetesRunsTheProjectImage(t *testing.T) {
	k := kubernetes(t)
	idx := pypitest.New(t, testWheels...)
	cache := enginetest.Registry(t) + "/mlenv-test/k8s"
	dir := pipProject(t, pythonRef(t), "[project]\nname = \"paper\"\n[pip]\npackages = [\"beta\"]\nindex-url = \""+idx.URL+"\"\n[run]\nenv-cache = \""+cache+"\"\ngpus = 2\ncommand = [\"python3\", \"train.py\"]\n")
	writeFile(t, filepath.Join(dir, "train.py"), k8sTrain)
	commitProject(t, dir, true)
	ref := pushCode(t, dir)
	export := mlenv(t, dir, "export", "k8s", "--code", "image", "--name", "paper")
	if export.code != 0 || !strings.Contains(export.stdout, "image: "+ref) || !strings.Contains(export.stdout, "nvidia.com/gpu: 2") {
		t.Fatalf("export k8s --code image (want %s): exit %d\n%s\n%s", ref, export.code, export.stdout, export.stderr)
	}

	cond, logs, cold := k.job(export.stdout, "paper")
	m := k8sRanRe.FindStringSubmatch(logs)
	if cond != "Complete" || m == nil || m[2] != "['mlenv.lock', 'mlenv.toml', 'train.py']" {
		t.Fatalf("the Job: %s, its log:\n%s", cond, logs)
	}
	if image := k.pod("paper", ".status.containerStatuses[0].imageID"); !strings.HasSuffix(image, ref[strings.Index(ref, "@"):]) {
		t.Errorf("the pod ran %s, want the project image %s", image, ref)
	}
	if init := k.pod("paper", ".spec.initContainers"); init != "" || strings.Contains(logs, "pip") {
		t.Errorf("something installed: init containers %s, log:\n%s", init, logs)
	}
	devices := strings.Split(m[1], ",")
	if len(devices) != 2 || !allocated(t, m[1]) {
		t.Errorf("the container saw GPUs %q: want the 2 the device plugin allocated (%s)", m[1], allocations(t))
	}
	k.run(nil, "delete", "job", "paper", "--wait")
	_, _, warm := k.job(export.stdout, "paper")
	t.Logf("kubectl apply to Complete: %v pulling the project image (layers shared with earlier images may be on the node), %v with it cached", cold.Round(time.Millisecond), warm.Round(time.Millisecond))

	writeFile(t, filepath.Join(dir, "exit-code"), "3")
	commitProject(t, dir, false)
	pushCode(t, dir)
	failing := mlenv(t, dir, "export", "k8s", "--code", "image", "--name", "paper-fails")
	if cond, logs, _ := k.job(failing.stdout, "paper-fails"); cond != "Failed" || !k8sRanRe.MatchString(logs) {
		t.Fatalf("the Job whose command exits 3: %s, log:\n%s", cond, logs)
	}
	if code := k.pod("paper-fails", ".status.containerStatuses[0].state.terminated.exitCode"); code != "3" {
		t.Errorf("the pod's exit code is %q, want 3", code)
	}
}

// TestKubernetesClaimRunsTheWorkingTree: `--code pvc:CLAIM` mounts a claim
// (here hostPath-backed, the project's directory) at [run] workdir: the
// Job runs the working tree as it is, uncommitted and untracked files too;
// and the API server accepts every variant of the export.
func TestKubernetesClaimRunsTheWorkingTree(t *testing.T) {
	k := kubernetes(t)
	idx := pypitest.New(t, testWheels...)
	cache := enginetest.Registry(t) + "/mlenv-test/k8s-pvc"
	spec := "[pip]\npackages = [\"beta\"]\nindex-url = \"" + idx.URL + "\"\n[run]\ncommand = [\"python3\", \"train.py\"]\n"
	dir := pipProject(t, pythonRef(t), spec+"env-cache = \""+cache+"\"\n")
	writeFile(t, filepath.Join(dir, "train.py"), k8sTrain)
	commitProject(t, dir, true)
	pushCode(t, dir)
	writeFile(t, filepath.Join(dir, "notes.txt"), "not committed anywhere")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	volume := k.namespace + "-code"
	k.run([]byte(fmt.Sprintf(`apiVersion: v1
kind: PersistentVolume
metadata: {name: %[1]s}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  claimRef: {namespace: %[2]s, name: paper-code}
  hostPath: {path: %[3]s, type: Directory}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: paper-code}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  volumeName: %[1]s
  resources: {requests: {storage: 1Gi}}
`, volume, k.namespace, dir)), "apply", "-f", "-")
	t.Cleanup(func() { _ = exec.Command("kubectl", "delete", "pv", volume, "--wait=false").Run() })

	export := mlenv(t, dir, "export", "k8s", "--code", "pvc:paper-code", "--name", "paper")
	cond, logs, _ := k.job(export.stdout, "paper")
	if m := k8sRanRe.FindStringSubmatch(logs); cond != "Complete" || m == nil || !strings.Contains(m[2], "'notes.txt'") {
		t.Fatalf("the Job with the claim: %s, log:\n%s", cond, logs)
	}

	install := pipProject(t, pythonRef(t), spec)
	if r := mlenv(t, install, "lock"); r.code != 0 {
		t.Fatalf("lock: %s", r.stderr)
	}
	variants := map[string]result{
		"install":      mlenv(t, install, "export", "k8s"),
		"env-cache":    mlenv(t, dir, "export", "k8s"),
		"--code pvc":   export,
		"--code image": mlenv(t, dir, "export", "k8s", "--code", "image"),
	}
	for name, r := range variants {
		if r.code != 0 {
			t.Fatalf("export k8s (%s): exit %d\n%s", name, r.code, r.stderr)
		}
		if out, err := k.try([]byte(r.stdout), "apply", "--dry-run=server", "-f", "-"); err != nil {
			t.Errorf("the API server refuses the %s export: %v\n%s\n%s", name, err, out, r.stdout)
		}
	}
}

// commitProject locks (first) and commits the project's files.
func commitProject(t *testing.T, dir string, first bool) {
	t.Helper()
	if first {
		if r := mlenv(t, dir, "lock"); r.code != 0 {
			t.Fatalf("lock: %s", r.stderr)
		}
		gitIn(t, dir, "init", "-q")
	}
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "commit", "-q", "-m", "paper")
}

// pushCode pushes the project image and returns its reference on the
// lock's first platform (what export names).
func pushCode(t *testing.T, dir string) string {
	t.Helper()
	push := mlenv(t, dir, "push", "--code", "--json")
	var res pushResult
	if push.code != 0 || json.Unmarshal([]byte(push.stdout), &res) != nil || res.Project == nil || len(res.Project.Platforms) == 0 {
		t.Fatalf("push --code: exit %d\n%s\n%s", push.code, push.stdout, push.stderr)
	}
	return res.Project.Platforms[0].Reference
}

const gpuAllocations = "/run/mlenv-k8s/gpu-allocations"

func allocations(t *testing.T) string {
	b, err := os.ReadFile(gpuAllocations)
	if err != nil {
		t.Fatalf("the stand-in device plugin's allocations: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// allocated says whether the device plugin allocated exactly ids.
func allocated(t *testing.T, ids string) bool {
	return strings.Contains("\n"+allocations(t)+"\n", "\n"+ids+"\n")
}
