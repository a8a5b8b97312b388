"""mlenv's installer, run inside the locked image by the image's python.

Creates the virtual environment the lock was resolved for (system site
packages visible) and installs exactly the locked files: hashes required,
no dependency resolution. argv: requirements file, then pip's index args.
Keep it runnable on python 3.6+.
"""
import os
import subprocess
import sys

VENV = "/opt/mlenv/venv"


def main():
    # Set here, not on the container: the environment image keeps the
    # container's variables, and these are the installer's alone.
    env = dict(os.environ, PIP_CACHE_DIR="/opt/mlenv/pip-cache", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1")
    if not os.path.exists(os.path.join(VENV, "bin", "python")):
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", VENV],
                       check=True, stdout=sys.stderr, env=env)
    pip = [os.path.join(VENV, "bin", "python"), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    quiet = [] if os.environ.get("MLENV_VERBOSE") else ["--quiet"]
    p = subprocess.run(pip + ["install"] + quiet + ["--require-hashes", "--no-deps", "-r", sys.argv[1]] + sys.argv[2:], env=env)
    sys.exit(p.returncode)


if __name__ == "__main__":
    main()
