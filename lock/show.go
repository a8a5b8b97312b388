package lock

import (
	"fmt"
	"strings"
)

// PinnedReference is the image as written in mlenv.toml, with the locked
// tag and digest: repository[:tag]@digest, a reference docker, podman and
// every registry tool accept. It is the one way mlenv prints a pin.
func (l *Lock) PinnedReference() string {
	ref := l.Image.Reference
	if ref == "" {
		ref = l.Image.Repository
	}
	ref, _, _ = strings.Cut(ref, "@") // a digest written in the ref
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i] // a tag written in the ref
	}
	if l.Image.Tag != "" {
		ref += ":" + l.Image.Tag
	}
	return ref + "@" + l.Image.Digest
}

// Summary is the locked environment at a glance, for a terminal.
func (l *Lock) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "image       %s\n", l.PinnedReference())
	for _, p := range l.Image.Platforms {
		fmt.Fprintf(&b, "            %s %s (config %s)\n", p.Platform, Short(p.Digest), Short(p.Config))
		if p.RequireCUDA != "" {
			fmt.Fprintf(&b, "              requires %s  (%s)\n", p.RequireCUDA, p.RequireSource)
		}
		if p.EnvDigest != "" && p.EnvDigest != p.Digest {
			fmt.Fprintf(&b, "              environment %s (config %s, %s)\n", p.EnvDigest, p.EnvConfig, layoutPhrase(l.Image.EnvLayout))
			if ref := l.EnvReference(p.Platform); ref != "" {
				fmt.Fprintf(&b, "              env-cache %s\n", ref)
			}
		}
	}
	v := l.Versions
	row := func(label, val, source string) {
		if val == "" {
			return
		}
		if source != "" {
			val += "  (" + source + ")"
		}
		fmt.Fprintf(&b, "%-11s %s\n", label, val)
	}
	row("framework", strings.TrimSpace(v.Framework+" "+v.FrameworkVersion), v.Sources["framework-version"])
	row("cuda", v.CUDA, v.Sources["cuda"])
	row("cudnn", v.CuDNN, v.Sources["cudnn"])
	row("python", v.Python, v.Sources["python"])
	row("min driver", v.MinDriver, v.Sources["min-driver"])
	row("gpu archs", strings.Join(v.CUDAArchs, " "), v.Sources["cuda-archs"])
	if len(l.Packages) > 0 {
		fmt.Fprintf(&b, "packages    %d\n", len(l.Packages))
		for _, p := range l.Packages {
			fmt.Fprintf(&b, "  %s==%s%s\n", p.Name, p.Version, platformNote(strings.Join(p.Platforms, ",")))
		}
	}
	if len(l.Build) > 0 {
		fmt.Fprintf(&b, "build       %d (what the files that are not wheels are built with)\n", len(l.Build))
		for _, p := range l.Build {
			fmt.Fprintf(&b, "  %s==%s%s\n", p.Name, p.Version, platformNote(strings.Join(p.Platforms, ",")))
		}
	}
	return b.String()
}

// Markdown is the locked environment as a table for a paper's README.
func (l *Lock) Markdown() string {
	var b strings.Builder
	b.WriteString("| component | version |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| image | `%s` |\n", l.PinnedReference())
	v := l.Versions
	for _, r := range [][2]string{{v.Framework, v.FrameworkVersion}, {"CUDA", v.CUDA}, {"cuDNN", v.CuDNN}, {"Python", v.Python}, {"minimum NVIDIA driver", v.MinDriver}, {"GPU architectures", strings.Join(v.CUDAArchs, " ")}} {
		if r[0] != "" && r[1] != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", r[0], r[1])
		}
	}
	for _, p := range l.Packages {
		fmt.Fprintf(&b, "| %s%s | %s |\n", p.Name, platformNote(strings.Join(p.Platforms, ",")), p.Version)
	}
	b.WriteString("\nReproduce with `mlenv run`: the environment is pinned in `mlenv.lock`.\n")
	return b.String()
}

// Short is a digest as far as a person compares it: sha256: and 12 hex.
func Short(d string) string {
	if len(d) > 19 {
		return d[:19] + "…"
	}
	return d
}

// Describe is the versions on one line, for messages.
func (v Versions) Describe() string {
	s := ""
	add := func(label, val string) {
		if val != "" {
			if s != "" {
				s += ", "
			}
			s += label + " " + val
		}
	}
	if !strings.EqualFold(v.Framework, "cuda") || v.FrameworkVersion != v.CUDA {
		add(v.Framework, v.FrameworkVersion) // the cuda family's version is its CUDA
	}
	add("CUDA", v.CUDA)
	add("cuDNN", v.CuDNN)
	add("python", v.Python)
	add("min driver", v.MinDriver)
	if s == "" {
		return "no versions found in the image's tag or config"
	}
	return s
}

// layoutPhrase says how the environment's layers are made.
func layoutPhrase(layout string) string {
	if layout == LayoutLayers {
		return "a layer per package"
	}
	return "one layer"
}

// EnvReference is the environment image of platform in the env-cache,
// by digest (cache@sha256:…), when [run] env-cache is set and the lock
// records the environment; else "".
func (l *Lock) EnvReference(platform string) string {
	pl, ok := l.Image.Platform(platform)
	if !ok || l.Run.EnvCache == "" || pl.EnvDigest == "" {
		return ""
	}
	return l.Run.EnvCache + "@" + pl.EnvDigest
}
