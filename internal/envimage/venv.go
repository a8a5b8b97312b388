package envimage

import (
	"fmt"
	"path"
	"strings"

	"github.com/mlenv/mlenv/lock"
)

// Python is the base image's interpreter the venv is made for.
type Python struct {
	Executable string // absolute, as `python -m venv` links it
	Version    string // 3.11.2
}

// lockedPython is the interpreter l's venv is made for, and its
// MAJOR.MINOR.
func lockedPython(l *lock.Lock) (Python, string, error) {
	py := Python{Executable: l.Versions.PythonExecutable, Version: l.Versions.Python}
	if py.Executable == "" {
		return py, "", fmt.Errorf("the lock does not say where the image's python is ([versions] python-executable): run `mlenv lock --upgrade` with this mlenv")
	}
	mm, err := py.majorMinor()
	return py, mm, err
}

// majorMinor is "3.11".
func (p Python) majorMinor() (string, error) {
	parts := strings.Split(p.Version, ".")
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return "", fmt.Errorf("python version %q is not MAJOR.MINOR[.PATCH]", p.Version)
	}
	return parts[0] + "." + parts[1], nil
}

// addVenv adds what `python -m venv --without-pip --system-site-packages`
// makes (lock.VenvArgs): pyvenv.cfg, bin/python linked to the image's
// interpreter, an empty site-packages, lib64 as a link to lib, and a POSIX
// activate script.
func addVenv(t tree, l venvLayout, py Python, mm string) {
	t.bytes(l.root+"/pyvenv.cfg", 0o644, fmt.Appendf(nil,
		"home = %s\ninclude-system-site-packages = true\nversion = %s\n", path.Dir(py.Executable), py.Version))
	t.symlink(l.bin+"/python", py.Executable)
	t.symlink(l.bin+"/python3", "python")
	t.symlink(l.bin+"/python"+mm, "python")
	t.symlink(l.root+"/lib64", "lib")
	t.dir(l.sitePackages)
	t.dir(l.root + "/include")
	t.bytes(l.bin+"/activate", 0o644, fmt.Appendf(nil, activate, "/"+l.root))
}

// activate is bin/activate for sh, bash and zsh.
const activate = `# Source it: . bin/activate (mlenv's environment; deactivate undoes it)
deactivate () {
    if [ -n "${_OLD_VIRTUAL_PATH:-}" ]; then PATH="$_OLD_VIRTUAL_PATH"; export PATH; unset _OLD_VIRTUAL_PATH; fi
    unset VIRTUAL_ENV
    [ "${1:-}" = "nondestructive" ] || unset -f deactivate
}
deactivate nondestructive
VIRTUAL_ENV=%q
export VIRTUAL_ENV
_OLD_VIRTUAL_PATH="$PATH"
PATH="$VIRTUAL_ENV/bin:$PATH"
export PATH
hash -r 2>/dev/null || true
`
