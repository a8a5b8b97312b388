// Package export renders a lock for other tools: a hash-pinned
// requirements file, a Dockerfile, devcontainer.json, an Apptainer
// definition, a Kubernetes Job, a Compose file and a Slurm script. Each
// pins the image by digest and installs exactly the locked files the way
// `mlenv run` does. Each format is one Format in one file; Formats is the
// table the CLI's help and checks come from.
package export

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/mlenv/mlenv/lock"
)

// Format is one export format.
type Format struct {
	Name string // as `mlenv export NAME` takes it
	Doc  string // what it writes, one line or a few, for help
	// Render exports a lock. Options come with their defaults applied
	// (Platform, Name, ProjectDir) and the platform's requirements file.
	Render func(l *lock.Lock, o Options) (*Files, error)
}

// Formats are the export formats, in the order help lists them.
var Formats = []Format{requirementsFormat, dockerfileFormat, devcontainerFormat, apptainerFormat, k8sFormat, composeFormat, slurmFormat}

// FormatNames are the formats' names, for help and errors.
func FormatNames() []string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = f.Name
	}
	return names
}

// Lookup finds a format by name.
func Lookup(name string) (Format, error) {
	i := slices.IndexFunc(Formats, func(f Format) bool { return f.Name == name })
	if i < 0 {
		return Format{}, fmt.Errorf("unknown export format %q: use one of %s", name, strings.Join(FormatNames(), ", "))
	}
	return Formats[i], nil
}

// Help is the formats' table for `mlenv export --help`.
func Help() string {
	var b strings.Builder
	for _, f := range Formats {
		for i, line := range strings.Split(f.Doc, "\n") {
			name := ""
			if i == 0 {
				name = f.Name
			}
			fmt.Fprintf(&b, "  %-13s %s\n", name, line)
		}
	}
	return b.String()
}

// RequirementsFile is the name the other exports give the hash-pinned
// requirements file they install.
const RequirementsFile = "requirements.lock.txt"

// Options say what to export for.
type Options struct {
	Platform string // the platform's packages; "" means the lock's first platform
	Name     string // a name for the job, service or container
	// OutDir is where the export is written, relative to the project
	// directory (slash-separated), and ProjectDir the project directory
	// relative to it; empty: the usual places (.devcontainer/ for a
	// devcontainer, the project directory for the others).
	OutDir, ProjectDir string
	// Slurm says how the slurm export runs the environment; K8s adds to
	// the Kubernetes Job.
	Slurm SlurmOptions
	K8s   K8sOptions
	// Code is where a cluster job's project code comes from.
	Code Code

	requirements string // the rendered requirements file, set by Render
}

// Code is where an export's job gets the project's code: the project
// image (Image, by digest: the environment with the code at workdir), or
// a PersistentVolumeClaim mounted at workdir (Claim, and SubPath in it);
// zero: nowhere the export can say (Slurm's docker runtime and Compose
// mount the project directory).
type Code struct {
	Image          string
	Claim, SubPath string
}

// ParseCode reads --code: "image" (the caller computes the reference) or
// "pvc:NAME[:SUBPATH]".
func ParseCode(s string) (Code, bool, error) {
	if s == "" {
		return Code{}, false, nil
	}
	if s == "image" {
		return Code{}, true, nil
	}
	rest, ok := strings.CutPrefix(s, "pvc:")
	claim, sub, _ := strings.Cut(rest, ":")
	if !ok || !dnsNameRe.MatchString(claim) || strings.HasPrefix(sub, "/") || slices.Contains(strings.Split(sub, "/"), "..") {
		return Code{}, false, fmt.Errorf("--code %q: use image (the project image, `mlenv push --code`) or pvc:NAME[:SUBPATH] (a claim holding the project, NAME a DNS-1123 name, SUBPATH relative)", s)
	}
	return Code{Claim: claim, SubPath: sub}, false, nil
}

// Files is an export: file name → content. The first file in Order is the
// main one (printed on stdout).
type Files struct {
	Order   []string
	Content map[string]string
}

func (f *Files) add(name, content string) *Files {
	if f.Content == nil {
		f.Content = map[string]string{}
	}
	f.Order = append(f.Order, name)
	f.Content[name] = content
	return f
}

// one is an export of one file.
func one(name, content string) *Files { return new(Files).add(name, content) }

// withRequirements adds the requirements file an export installs from,
// when it installs.
func withRequirements(f *Files, l *lock.Lock, o Options) *Files {
	if installs(l, o) {
		f.add(RequirementsFile, o.requirements)
	}
	return f
}

// Render exports l in the format named.
func Render(format string, l *lock.Lock, o Options) (*Files, error) {
	f, err := Lookup(format)
	if err != nil {
		return nil, err
	}
	if o.Platform == "" && len(l.Image.Platforms) > 0 {
		o.Platform = l.Image.Platforms[0].Platform
	}
	if o.Name == "" {
		o.Name = "mlenv"
	}
	if o.ProjectDir == "" {
		o.ProjectDir = "."
	}
	if o.requirements, err = Requirements(l, o.Platform); err != nil {
		return nil, err
	}
	return f.Render(l, o)
}

// installs says whether an export installs the locked files itself: no
// image at hand has them (see runnable).
func installs(l *lock.Lock, o Options) bool { return runnable(l, o) == "" }

// runnable is the image that runs platform's environment with nothing to
// install, by digest: the project image (--code image), the environment
// in the env-cache, or the base image when the lock installs nothing; ""
// when none.
func runnable(l *lock.Lock, o Options) string {
	platform := o.Platform
	if o.Code.Image != "" {
		return o.Code.Image
	}
	if ref := l.EnvReference(platform); ref != "" {
		return ref
	}
	if len(l.PackagesFor(platform)) == 0 {
		return l.Image.ByDigest()
	}
	return ""
}

// image is what an export runs: runnable, or else the base image by
// digest, on which it installs.
func image(l *lock.Lock, o Options) string {
	if ref := runnable(l, o); ref != "" {
		return ref
	}
	return l.Image.ByDigest()
}

// jsonArray writes argv as a JSON array (Dockerfile exec form).
func jsonArray(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// shellQuote quotes one word for a POSIX shell, for the formats whose
// sections are shell by definition (Apptainer's %environment, %runscript).
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// dnsNameRe is a DNS-1123 subdomain's label: what Kubernetes names are.
var dnsNameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// DNSName makes a name fit for Kubernetes and Compose: lower case letters,
// digits and '-'; "mlenv" when nothing is left.
func DNSName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0:
			b.WriteRune('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		return "mlenv"
	}
	return out
}

// OutputPaths are the output directory relative to the project and the
// project relative to the output directory, slash-separated, as Options
// takes them (OutDir, ProjectDir).
func OutputPaths(project, output string) (outDir, projectDir string, err error) {
	out, err := filepath.Abs(output)
	if err != nil {
		return "", "", err
	}
	if outDir, err = filepath.Rel(project, out); err != nil {
		return "", "", err
	}
	if projectDir, err = filepath.Rel(out, project); err != nil {
		return "", "", err
	}
	return filepath.ToSlash(outDir), filepath.ToSlash(projectDir), nil
}
