package export

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/schema"
)

// pathShim runs argv with the venv first on PATH: Kubernetes cannot
// prepend to an image's PATH, so the main container starts through it.
const pathShim = `import os, sys
os.environ["PATH"] = "` + lock.VenvPath + `/bin:" + os.environ.get("PATH", "")
os.environ["VIRTUAL_ENV"] = "` + lock.VenvPath + `"
os.execvp(sys.argv[1], sys.argv[1:])`

// k8sRequirementsDir is where the init container mounts the ConfigMap
// holding the requirements file.
const k8sRequirementsDir = lock.Dir + "/requirements"

// k8sInstallScript runs the install steps one after the other in the init
// container (a pod's command is one argv).
func k8sInstallScript() string {
	var b strings.Builder
	b.WriteString("import subprocess\n")
	for _, step := range installSteps(k8sRequirementsDir+"/requirements.txt", true) {
		fmt.Fprintf(&b, "subprocess.run(%s, check=True)\n", jsonArray(step))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

var k8sFormat = Format{
	Name: "k8s",
	Doc:  "a ConfigMap and a Job: pinned image, nvidia.com/gpu limits, the\ninstall as an init container, pip's cache as a volume",
	Render: func(l *lock.Lock, o Options) (*Files, error) {
		if l.Run.GPUs.Mode() == "all" {
			return nil, errors.New(`[run] gpus = "all": a Kubernetes Job asks for nvidia.com/gpu by count: set [run] gpus = N (the GPUs a node gives the pod)`)
		}
		return one("job.yaml", K8sJob(l, o)), nil
	},
}

type k8sMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace,omitempty"`
	Labels    map[string]string `yaml:"labels,omitempty"`
}

// K8sOptions place the Job: its namespace, and the GPU nodes it may run
// on (node selector, tolerations of their taints).
type K8sOptions struct {
	Namespace    string
	NodeSelector map[string]string
	Tolerations  []Toleration
}

// Toleration is a pod's toleration of a node taint.
type Toleration struct {
	Key      string `yaml:"key"`
	Operator string `yaml:"operator"`
	Value    string `yaml:"value,omitempty"`
	Effect   string `yaml:"effect,omitempty"`
}

// ParseK8sOptions reads the Kubernetes flags: a namespace, node labels
// KEY=VALUE and tolerations KEY[=VALUE][:EFFECT].
func ParseK8sOptions(namespace string, nodeSelector, tolerations []string) (K8sOptions, error) {
	k := K8sOptions{Namespace: namespace}
	if namespace != "" && DNSName(namespace) != namespace {
		return k, fmt.Errorf("--namespace %q: a namespace is lower-case letters, digits and '-'", namespace)
	}
	for _, kv := range nodeSelector {
		key, value, ok := strings.Cut(kv, "=")
		if !ok || key == "" {
			return k, fmt.Errorf("--node-selector %q: write KEY=VALUE, e.g. nvidia.com/gpu.present=true", kv)
		}
		if k.NodeSelector == nil {
			k.NodeSelector = map[string]string{}
		}
		k.NodeSelector[key] = value
	}
	for _, s := range tolerations {
		t, err := ParseToleration(s)
		if err != nil {
			return k, err
		}
		k.Tolerations = append(k.Tolerations, t)
	}
	return k, nil
}

// ParseToleration reads KEY[=VALUE][:EFFECT] (nvidia.com/gpu:NoSchedule):
// without a value the key need only exist.
func ParseToleration(s string) (Toleration, error) {
	rest, effect, _ := strings.Cut(s, ":")
	key, value, hasValue := strings.Cut(rest, "=")
	t := Toleration{Key: key, Operator: "Exists", Effect: effect}
	if hasValue {
		t.Operator, t.Value = "Equal", value
	}
	if key == "" || (effect != "" && effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute") {
		return Toleration{}, fmt.Errorf("toleration %q: write KEY[=VALUE][:EFFECT], EFFECT one of NoSchedule, PreferNoSchedule, NoExecute (e.g. nvidia.com/gpu:NoSchedule)", s)
	}
	return t, nil
}

type k8sEnv struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

type k8sMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	SubPath   string `yaml:"subPath,omitempty"`
	ReadOnly  bool   `yaml:"readOnly,omitempty"`
}

type k8sContainer struct {
	Name         string         `yaml:"name"`
	Image        string         `yaml:"image"`
	Command      []string       `yaml:"command,omitempty"`
	WorkingDir   string         `yaml:"workingDir,omitempty"`
	Env          []k8sEnv       `yaml:"env,omitempty"`
	Resources    map[string]any `yaml:"resources,omitempty"`
	VolumeMounts []k8sMount     `yaml:"volumeMounts,omitempty"`
}

// K8sJob is a ConfigMap with the requirements and a batch/v1 Job: the
// pinned image, an init container installing the locked files into a
// shared venv (pip's cache on the PersistentVolumeClaim named like the
// pip-cache volume), the [run] command, env and nvidia.com/gpu limits.
func K8sJob(l *lock.Lock, o Options) string {
	r := l.Run
	main := k8sContainer{Name: o.Name, Image: image(l, o), WorkingDir: r.Workdir}
	for _, k := range slices.Sorted(maps.Keys(r.Env)) {
		main.Env = append(main.Env, k8sEnv{k, r.Env[k]})
	}
	if n := gpuCount(r.GPUs); n > 0 {
		main.Resources = map[string]any{"limits": map[string]any{"nvidia.com/gpu": n}}
	}
	var volumes []map[string]any
	var init []k8sContainer
	if installs(l, o) {
		main.Command = append([]string{"python3", "-c", pathShim}, orDefaultCommand(r.Command)...)
		venv := k8sMount{Name: "venv", MountPath: lock.VenvPath}
		main.VolumeMounts = append(main.VolumeMounts, venv)
		init = append(init, k8sContainer{
			Name: "install", Image: l.Image.ByDigest(), Command: []string{"python3", "-c", k8sInstallScript()},
			Env: []k8sEnv{{"PIP_CACHE_DIR", lock.PipCacheDir}},
			VolumeMounts: []k8sMount{venv, {Name: "requirements", MountPath: k8sRequirementsDir, ReadOnly: true},
				{Name: "pip-cache", MountPath: lock.PipCacheDir}},
		})
		volumes = append(volumes,
			map[string]any{"name": "venv", "emptyDir": map[string]any{}},
			map[string]any{"name": "requirements", "configMap": map[string]any{"name": o.Name + "-requirements"}},
			// The pip cache lives as long as the pod: a claim the export
			// does not create would leave the pod pending for ever.
			map[string]any{"name": "pip-cache", "emptyDir": map[string]any{}})
	} else if len(r.Command) > 0 {
		main.Command = r.Command
	}
	if c := o.Code; c.Claim != "" {
		main.VolumeMounts = append(main.VolumeMounts, k8sMount{Name: "code", MountPath: r.Workdir, SubPath: c.SubPath})
		volumes = append(volumes, map[string]any{"name": "code", "persistentVolumeClaim": map[string]any{"claimName": c.Claim}})
	}
	if r.ShmSize != "" {
		main.VolumeMounts = append(main.VolumeMounts, k8sMount{Name: "dshm", MountPath: "/dev/shm"})
		volumes = append(volumes, map[string]any{"name": "dshm", "emptyDir": map[string]any{"medium": "Memory", "sizeLimit": k8sQuantity(r.ShmSize)}})
	}
	podSpec := map[string]any{"restartPolicy": "Never", "containers": []k8sContainer{main}}
	if len(init) > 0 {
		podSpec["initContainers"] = init
	}
	if len(volumes) > 0 {
		podSpec["volumes"] = volumes
	}
	if r.IPC == "host" {
		podSpec["hostIPC"] = true
	}
	if r.Network == "host" {
		podSpec["hostNetwork"] = true
	}
	if len(o.K8s.NodeSelector) > 0 {
		podSpec["nodeSelector"] = o.K8s.NodeSelector
	}
	if len(o.K8s.Tolerations) > 0 {
		podSpec["tolerations"] = o.K8s.Tolerations
	}
	job := map[string]any{
		"apiVersion": "batch/v1", "kind": "Job",
		"metadata": k8sMeta{Name: o.Name, Namespace: o.K8s.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "mlenv"}},
		"spec":     map[string]any{"backoffLimit": 0, "template": map[string]any{"spec": podSpec}},
	}
	var b strings.Builder
	b.WriteString("# Generated by mlenv from mlenv.lock. Apply: kubectl apply -f job.yaml\n")
	b.WriteString(k8sCodeComment(o.Code, r.Workdir))
	b.WriteString(k8sGPUComment(r.GPUs))
	if installs(l, o) {
		cm := map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": k8sMeta{Name: o.Name + "-requirements", Namespace: o.K8s.Namespace},
			"data":     map[string]string{"requirements.txt": o.requirements},
		}
		b.WriteString(yamlDoc(cm) + "---\n")
	}
	b.WriteString(yamlDoc(job))
	return b.String()
}

// k8sCodeComment says where the Job's project code comes from.
func k8sCodeComment(c Code, workdir string) string {
	switch {
	case c.Image != "":
		return "# The project's code: in the project image, at " + workdir + " (mlenv push --code).\n"
	case c.Claim != "":
		return "# The project's code: the claim " + c.Claim + " mounted at " + workdir + ".\n"
	}
	return "# The project's code: NOT INCLUDED. Nothing puts it at " + workdir + ": export with --code image\n" +
		"# (after mlenv push --code) or --code pvc:CLAIM[:SUBPATH] (a claim holding it).\n"
}

// k8sGPUComment says how many GPUs the Job asks for, and why where
// [run] gpus is not a count.
func k8sGPUComment(g schema.GPUs) string {
	n := gpuCount(g)
	switch g.Mode() {
	case "none":
		return ""
	case "count":
		return fmt.Sprintf("# GPUs: the Job asks for nvidia.com/gpu: %d ([run] gpus).\n", n)
	case "devices":
		return fmt.Sprintf("# GPUs: the Job asks for nvidia.com/gpu: %d, the number of [run] gpus devices (a pod cannot pick device ids: the device plugin does).\n", n)
	}
	return fmt.Sprintf("# GPUs: the Job asks for nvidia.com/gpu: %d: [run] gpus = %q, and a Job asks for a count (Kubernetes has no \"all\"); set gpus = N for more.\n", n, g.Mode())
}

func orDefaultCommand(cmd []string) []string {
	if len(cmd) == 0 {
		return []string{"python3"}
	}
	return cmd
}

// gpuCount is the number of GPUs to ask Kubernetes for; "all" and "auto"
// ask for one (Kubernetes has no "all").
func gpuCount(g schema.GPUs) int {
	switch g.Mode() {
	case "none":
		return 0
	case "count":
		return g.Count()
	case "devices":
		return len(g.DeviceIDs())
	}
	return 1
}

// k8sQuantity writes a docker size (8g) as a Kubernetes quantity (8Gi).
func k8sQuantity(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	last := strings.ToLower(s[len(s)-1:])
	num := strings.TrimRight(s, "bBkKmMgG")
	switch {
	case strings.HasSuffix(strings.ToLower(s), "b") && len(s) > 1:
		return k8sQuantity(s[:len(s)-1])
	case last == "k":
		return num + "Ki"
	case last == "m":
		return num + "Mi"
	case last == "g":
		return num + "Gi"
	}
	return s
}

func yamlDoc(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("export: yaml: %v", err)) // plain data: cannot fail
	}
	return string(b)
}
