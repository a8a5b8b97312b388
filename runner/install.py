"""mlenv's installer, run inside the locked image by the image's python.

Reads a JSON request (argv[1]) holding mlenv's install recipe (lock's
recipe.go: the venv, pip's arguments and environment), creates the virtual
environment the lock was resolved for and installs exactly the locked
files. A file that does not match its locked hash may be a bad copy in the
shared pip cache: its cache entries are evicted (and said so, on a line
starting "mlenv: evicted") and the install is tried once more, so that a
second mismatch is the index's. Keep it runnable on python 3.6+.
"""
import hashlib
import json
import os
import re
import subprocess
import sys

MISMATCH = "DO NOT MATCH THE HASHES"
FROM_URL = re.compile(r"^\s+\S+ from (https?://[^\s#]+)", re.M)


def pip_install(argv, env):
    """Runs pip, streaming its stderr, and returns (exit code, stderr)."""
    p = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, universal_newlines=True)
    lines = []
    for line in p.stderr:
        sys.stderr.write(line)
        lines.append(line)
    return p.wait(), "".join(lines)


def evict(cache_dir, urls):
    """Removes pip's HTTP cache entries for urls (pip keys them by the
    sha224 of the URL, in http-v2/ since pip 23.3, http/ before)."""
    evicted = []
    for url in urls:
        h = hashlib.sha224(url.encode()).hexdigest()
        for sub in ("http-v2", "http"):
            path = os.path.join(cache_dir, sub, *(list(h[:5]) + [h]))
            for p in (path, path + ".body"):
                if os.path.exists(p):
                    os.remove(p)
                    if url not in evicted:
                        evicted.append(url)
    return evicted


def main():
    with open(sys.argv[1]) as f:
        req = json.load(f)
    # Set here, not on the container: the environment image keeps the
    # container's variables, and these are the installer's alone.
    env = dict(os.environ)
    env.update(kv.split("=", 1) for kv in req["env"])
    if not os.path.exists(req["venv_python"]):
        subprocess.run([sys.executable] + req["venv_args"], check=True, stdout=sys.stderr, env=env)
    install = req["install_argv"]
    if not os.environ.get("MLENV_VERBOSE"):
        install = install[:4] + ["--quiet"] + install[4:]
    code, err = pip_install(install + req["extra_args"], env)
    if code != 0 and MISMATCH in err and env.get("PIP_CACHE_DIR"):
        evicted = evict(env["PIP_CACHE_DIR"], FROM_URL.findall(err))
        for url in evicted:
            sys.stderr.write("mlenv: evicted from the pip cache: %s\n" % url)
        if evicted:
            code, _ = pip_install(install + req["extra_args"], env)
    sys.exit(code)


if __name__ == "__main__":
    main()
