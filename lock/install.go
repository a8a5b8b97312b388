package lock

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// PackagesFor is the lock's packages for one platform: those for every
// platform and those marked for this one.
func (l *Lock) PackagesFor(platform string) []Package { return forPlatform(l.Packages, platform) }

// BuildFor is the build requirements locked for platform's files that
// are not wheels.
func (l *Lock) BuildFor(platform string) []Package { return forPlatform(l.Build, platform) }

// forPlatform are the packages for platform: those for every platform and
// those that name it.
func forPlatform(pkgs []Package, platform string) []Package {
	var out []Package
	for _, p := range pkgs {
		if len(p.Platforms) == 0 || slices.Contains(p.Platforms, platform) {
			out = append(out, p)
		}
	}
	return out
}

// Constraints is a pip constraints file pinning pkgs (name==version).
func Constraints(pkgs []Package) string {
	var b strings.Builder
	for _, p := range pkgs {
		b.WriteString(p.Name + "==" + p.Version + "\n")
	}
	return b.String()
}

// IndexFlag is pip's flag for the i-th index a lock names: the first is
// --index-url, the others --extra-index-url.
func IndexFlag(i int) string {
	if i == 0 {
		return "--index-url"
	}
	return "--extra-index-url"
}

// IndexArgs are pip's flags for the indexes pkgs name, in the order they
// name them (the first is --index-url), with --trusted-host for plain-http
// ones (see TrustedHosts).
func IndexArgs(pkgs []Package) []string {
	var idx []string
	for _, p := range pkgs {
		if p.Index != "" && !slices.Contains(idx, p.Index) {
			idx = append(idx, p.Index)
		}
	}
	var args []string
	for i, u := range idx {
		args = append(args, IndexFlag(i), u)
	}
	for _, h := range TrustedHosts(idx) {
		args = append(args, "--trusted-host", h)
	}
	return args
}

// TrustedHosts lists the host:port of every plain-http index. pip caches
// downloads only from https origins and hosts it is told to trust; an
// index the user configured is trusted by intent, and at install time
// every file is checked against the lock's hashes anyway.
func TrustedHosts(indexes []string) []string {
	var out []string
	for _, raw := range indexes {
		if u, err := url.Parse(raw); err == nil && u.Scheme == "http" && u.Host != "" && !slices.Contains(out, u.Host) {
			out = append(out, u.Host)
		}
	}
	return out
}

// Requirements is a hash-pinned requirements file for pkgs: pip's index
// flags, then name==version with every hash. It installs with
// `pip install --require-hashes --no-deps -r FILE`. Every field is checked
// by its grammar first, so no data can put a line break or a pip option
// into the file.
func Requirements(pkgs []Package) (string, error) {
	var b strings.Builder
	args := IndexArgs(pkgs)
	for i := 0; i < len(args); i += 2 {
		b.WriteString(args[i] + " " + args[i+1] + "\n")
	}
	pins, err := Pins(pkgs)
	return b.String() + pins, err
}

// Pins are the requirements file's package lines: each name==version with
// its hashes.
func Pins(pkgs []Package) (string, error) {
	for _, p := range pkgs {
		if err := p.check(); err != nil {
			return "", fmt.Errorf("refusing to write requirements: %w", err)
		}
	}
	var b strings.Builder
	for _, p := range pkgs {
		b.WriteString(p.Name + "==" + p.Version)
		for _, h := range p.Hashes {
			b.WriteString(" \\\n    --hash=" + h)
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}
