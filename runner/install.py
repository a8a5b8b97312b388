"""mlenv's installer, run inside the locked image by the image's python.

Reads a JSON request (argv[1]) holding mlenv's install recipe (lock's
recipe.go: the venv, pip's arguments and environment), creates the virtual
environment the lock was resolved for and installs exactly the locked
files. Keep it runnable on python 3.6+.
"""
import json
import os
import subprocess
import sys


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
    p = subprocess.run(install + req["extra_args"], env=env)
    sys.exit(p.returncode)


if __name__ == "__main__":
    main()
