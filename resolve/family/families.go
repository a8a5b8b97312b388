// Package family knows the image families (pytorch, tensorflow, cuda,
// NGC): where each lives, how its tags are spelt in each era, where its
// images record their versions, and how candidates are ranked.
package family

import (
	"maps"
	"regexp"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
)

// Field names a version an image carries.
type Field string

// The version fields a family can know about.
const (
	FieldFramework Field = "framework"
	FieldCUDA      Field = "cuda"
	FieldCuDNN     Field = "cudnn"
	FieldPython    Field = "python"
	FieldDriver    Field = "driver"
	FieldRelease   Field = "release"

	fieldVariant Field = "variant"
)

// Family describes one image family: where it lives, how its tags are
// spelt in each era, and where its images record their versions. Families
// are data; adding one is a few lines here.
type Family struct {
	Name       string
	Registry   string // default registry host
	Repository string // repository path on that registry
	Framework  string // what [versions] framework says
	// VersionField is the field that [image] version constrains: the
	// framework, or CUDA itself for the cuda family.
	VersionField Field
	Grammars     []Grammar
	// Variants lists the variants in order of preference.
	Variants []string
	// OSes lists the operating systems in order of preference, for
	// families whose tags name one.
	OSes []string
	// Env and Labels name the config env vars and labels that carry each
	// field, in order of preference.
	Env    map[Field][]string
	Labels map[Field][]string
	// Table gives CUDA and cuDNN per framework minor version for images
	// whose tags do not say (TensorFlow's tested GPU builds), applied to
	// the variants listed in TableVariants.
	Table         map[string][2]string
	TableVariants []string
}

// Grammar is one era's tag spelling. Pattern's named groups are version,
// cuda, cudnn, os, osver, release, prefer, and any group whose name starts
// with "variant" (their matches joined with "-" form the raw variant).
type Grammar struct {
	Era     string
	Pattern *regexp.Regexp
	// VariantNames maps a raw variant to its canonical name; a raw variant
	// missing from a non-nil map is dropped.
	VariantNames map[string]string
	// Fixed sets fields the tag implies without spelling them.
	Fixed map[Field]string
	// Knows lists the fields this tag fully determines: a field listed
	// here and not matched is absent from the image.
	Knows []Field
}

var (
	tagKnowsAll = []Field{FieldFramework, FieldCUDA, FieldCuDNN}
	cudaOS      = `-(?P<os>ubuntu|ubi|rockylinux|centos)(?P<osver>\d+(?:\.\d+)?)$`
	cudaVersion = `^(?P<cuda>\d+\.\d+(?:\.\d+)?)`
	nvidiaEnv   = map[Field][]string{
		FieldCUDA:   {"CUDA_VERSION"},
		FieldCuDNN:  {"NV_CUDNN_VERSION", "CUDNN_VERSION"},
		FieldPython: {"PYTHON_VERSION"},
	}
	nvidiaLabels = map[Field][]string{FieldCuDNN: {"com.nvidia.cudnn.version"}}
	ngcEra       = []Field{FieldRelease}
)

// Families is every family mlenv knows, by name.
var Families = map[string]*Family{
	"pytorch": {
		Name: "pytorch", Registry: "index.docker.io", Repository: "pytorch/pytorch",
		Framework: "pytorch", VersionField: FieldFramework,
		Variants: []string{"runtime", "devel"},
		Grammars: []Grammar{
			{Era: "0.4", Pattern: regexp.MustCompile(`^(?P<version>\d+\.\d+)_cuda(?P<cuda>\d+)_cudnn(?P<cudnn>\d+)$`),
				Fixed: map[Field]string{fieldVariant: "devel"}, Knows: tagKnowsAll},
			{Era: "0.4.1-on", Pattern: regexp.MustCompile(`^(?P<version>\d+\.\d+(?:\.\d+)?)-cuda(?P<cuda>\d+(?:\.\d+)?)-cudnn(?P<cudnn>\d+)-(?P<variant>runtime|devel)$`),
				Knows: tagKnowsAll},
			{Era: "cpu", Pattern: regexp.MustCompile(`^(?P<version>\d+\.\d+\.\d+)-(?P<variant>runtime|devel)$`),
				Knows: tagKnowsAll},
		},
		Env: map[Field][]string{
			FieldFramework: {"PYTORCH_VERSION"},
			FieldCUDA:      {"CUDA_VERSION"},
			FieldCuDNN:     {"NV_CUDNN_VERSION", "CUDNN_VERSION"},
			FieldPython:    {"PYTHON_VERSION"},
		},
		Labels: nvidiaLabels,
	},
	"tensorflow": {
		Name: "tensorflow", Registry: "index.docker.io", Repository: "tensorflow/tensorflow",
		Framework: "tensorflow", VersionField: FieldFramework,
		Variants: []string{"gpu", "cpu", "gpu-jupyter", "cpu-jupyter"},
		Grammars: []Grammar{
			{Era: "release", Pattern: regexp.MustCompile(`^(?P<version>\d+\.\d+\.\d+)(?:-(?P<variant1>gpu))?(?P<prefer>-py3)?(?:-(?P<variant2>jupyter))?$`),
				VariantNames: map[string]string{"": "cpu", "gpu": "gpu", "jupyter": "cpu-jupyter", "gpu-jupyter": "gpu-jupyter"},
				Knows:        tagKnowsAll},
		},
		Env: map[Field][]string{
			FieldCUDA:   {"CUDA_VERSION"},
			FieldCuDNN:  {"NV_CUDNN_VERSION", "CUDNN_VERSION"},
			FieldPython: {"PYTHON_VERSION"},
		},
		Labels: nvidiaLabels,
		Table: map[string][2]string{
			"2.19": {"12.5", "9.3"}, "2.18": {"12.5", "9.3"}, "2.17": {"12.3", "8.9"}, "2.16": {"12.3", "8.9"},
			"2.15": {"12.2", "8.9"}, "2.14": {"11.8", "8.7"}, "2.13": {"11.8", "8.6"}, "2.12": {"11.8", "8.6"},
			"2.11": {"11.2", "8.1"}, "2.10": {"11.2", "8.1"}, "2.9": {"11.2", "8.1"}, "2.8": {"11.2", "8.1"},
			"2.7": {"11.2", "8.1"}, "2.6": {"11.2", "8.1"}, "2.5": {"11.2", "8.1"}, "2.4": {"11.0", "8.0"},
			"2.3": {"10.1", "7.6"}, "2.2": {"10.1", "7.6"}, "2.1": {"10.1", "7.6"}, "2.0": {"10.0", "7.4"},
		},
		TableVariants: []string{"gpu", "gpu-jupyter"},
	},
	"cuda": {
		Name: "cuda", Registry: "index.docker.io", Repository: "nvidia/cuda",
		Framework: "cuda", VersionField: FieldCUDA,
		Variants: []string{"runtime", "devel", "base"},
		OSes:     []string{"ubuntu", "ubi", "rockylinux", "centos"},
		Grammars: []Grammar{
			{Era: "cudnnN", Pattern: regexp.MustCompile(cudaVersion + `-cudnn(?P<cudnn>\d+)-(?P<variant>runtime|devel)` + cudaOS), Knows: tagKnowsAll},
			{Era: "cudnn", Pattern: regexp.MustCompile(cudaVersion + `-cudnn-(?P<variant>runtime|devel)` + cudaOS),
				Fixed: map[Field]string{FieldCuDNN: "9"}, Knows: tagKnowsAll},
			{Era: "plain", Pattern: regexp.MustCompile(cudaVersion + `-(?P<variant>base|runtime|devel)` + cudaOS), Knows: tagKnowsAll},
		},
		Env: nvidiaEnv, Labels: nvidiaLabels,
	},
	"ngc-pytorch": {
		Name: "ngc-pytorch", Registry: "nvcr.io", Repository: "nvidia/pytorch",
		Framework: "pytorch", VersionField: FieldFramework,
		Variants: []string{"dgpu", "igpu"},
		Grammars: []Grammar{
			{Era: "YY.MM", Pattern: regexp.MustCompile(`^(?P<release>\d{2}\.\d{2})-py3(?:-(?P<variant>igpu))?$`),
				VariantNames: map[string]string{"": "dgpu", "igpu": "igpu"}, Knows: ngcEra},
		},
		Env:    ngcEnv("PYTORCH_VERSION"),
		Labels: nvidiaLabels,
	},
	"ngc-tensorflow": {
		Name: "ngc-tensorflow", Registry: "nvcr.io", Repository: "nvidia/tensorflow",
		Framework: "tensorflow", VersionField: FieldFramework,
		Variants: []string{"dgpu", "igpu"},
		Grammars: []Grammar{
			{Era: "YY.MM", Pattern: regexp.MustCompile(`^(?P<release>\d{2}\.\d{2})-tf2-py3(?:-(?P<variant>igpu))?$`),
				VariantNames: map[string]string{"": "dgpu", "igpu": "igpu"}, Knows: ngcEra},
		},
		Env:    ngcEnv("TENSORFLOW_VERSION"),
		Labels: nvidiaLabels,
	},
}

func ngcEnv(framework string) map[Field][]string {
	return map[Field][]string{
		FieldFramework: {framework},
		FieldCUDA:      {"CUDA_VERSION"},
		FieldCuDNN:     {"CUDNN_VERSION", "NV_CUDNN_VERSION"},
		FieldPython:    {"PYTHON_VERSION"},
		FieldDriver:    {"CUDA_DRIVER_VERSION"},
		FieldRelease:   {"NVIDIA_PYTORCH_VERSION", "NVIDIA_TENSORFLOW_VERSION"},
	}
}

// FamilyNames lists the known family names, sorted.
func Names() []string { return slices.Sorted(maps.Keys(Families)) }

// ForRepository finds the family whose default repository path is
// repo, for reading versions of an image given by explicit reference.
func ForRepository(repo string) *Family {
	for _, n := range Names() {
		if f := Families[n]; f.Repository == repo || "library/"+f.Repository == repo {
			return f
		}
	}
	return nil
}

// knows reports whether the tag fully determines field f.
func (g Grammar) knows(f Field) bool { return slices.Contains(g.Knows, f) }

// Repo is the family's repository on registry, or on its own registry
// when registry is empty.
func (f *Family) Repo(registry string) (name.Repository, error) {
	host := f.Registry
	if registry != "" {
		host = registry
	}
	return name.NewRepository(host + "/" + f.Repository)
}
