"""mlenv's pip resolver, run inside the pinned image by the image's python.

Reads a JSON request (argv[1]) and prints one JSON result on stdout; pip's
own output goes to stderr. It resolves into the virtual environment that
`mlenv run` installs into (system site packages visible, so what the image
already has is not installed again), which also works where the system
python is EXTERNALLY-MANAGED (PEP 668) and in conda images.
Keep it runnable on python 3.6+: it runs in old images too.
"""
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions():
    """Every distribution visible to this python: name -> (version, requires)."""
    out = {}
    try:
        from importlib import metadata
        for d in metadata.distributions():
            name = d.metadata["Name"]
            if name:
                out.setdefault(normalize(name), (d.version, list(d.requires or []), name))
    except ImportError:
        import pkg_resources
        for d in pkg_resources.working_set:
            out.setdefault(normalize(d.project_name), (d.version, [str(r) for r in d.requires()], d.project_name))
    return out


def pip_version():
    try:
        import pip
        return pip.__version__
    except ImportError:
        return None


def version_tuple(v):
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def probe_framework(dists):
    if "torch" not in dists:
        return {}
    # The arch list the build was compiled for: _cuda_getArchFlags answers
    # without a GPU (get_arch_list returns [] where CUDA is not available,
    # as on the machine that locks).
    code = ("import json, torch\n"
            "c = torch.backends.cudnn.version() if hasattr(torch.backends, 'cudnn') else None\n"
            "f = getattr(torch._C, '_cuda_getArchFlags', None)\n"
            "a = (f() or '').split() if f else torch.cuda.get_arch_list()\n"
            "print(json.dumps({'torch': torch.__version__, 'cuda': torch.version.cuda, 'cudnn': c, 'archs': a}))")
    try:
        p = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=300)
        if p.returncode == 0:
            return json.loads(p.stdout.strip().splitlines()[-1])
    except Exception as e:  # a broken framework must not stop the lock
        log("mlenv: could not probe torch:", e)
    return {}


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class PipError(Exception):
    pass


def run_pip(pip, args):
    p = subprocess.run(pip + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    sys.stderr.write(p.stderr)
    if p.returncode != 0:
        raise PipError(p.stderr + p.stdout)
    return p.stdout


def make_venv(venv, venv_args):
    if not os.path.exists(os.path.join(venv, "bin", "python")):
        subprocess.run([sys.executable] + venv_args,
                       check=True, stdout=sys.stderr)
    return [os.path.join(venv, "bin", "python"), "-m", "pip", "--disable-pip-version-check", "--no-input"]


def download_hash(pip, spec, index_args, tmp):
    d = tempfile.mkdtemp(dir=tmp)
    run_pip(pip, ["download", "--no-deps", "--quiet", "-d", d, spec] + index_args)
    files = os.listdir(d)
    if len(files) != 1:
        raise PipError("pip download %s gave %d files" % (spec, len(files)))
    return files[0], sha256_file(os.path.join(d, files[0]))


def resolve_report(pip, req, index_args, tmp, cross):
    report = os.path.join(tmp, "report.json")
    args = ["install", "--dry-run", "--quiet", "--report", report, "-r", req["requirements_file"]]
    if req.get("constraints_file"):
        args += ["-c", req["constraints_file"]]
    if cross:
        # pip wants --target with platform options, even for a dry run
        args += ["--ignore-installed", "--target", os.path.join(tmp, "target")] + cross_download_args(cross)
    elif req.get("isolated"):
        # as pip's isolated build environment: nothing the image has counts
        args += ["--ignore-installed", "--target", os.path.join(tmp, "target")]
    run_pip(pip, args + index_args)
    with open(report) as f:
        data = json.load(f)
    out = []
    for item in data.get("install", []):
        meta, info = item["metadata"], item.get("download_info", {})
        url = info.get("url", "")
        hashes = []
        archive = info.get("archive_info", {})
        for algo, value in (archive.get("hashes") or {}).items():
            if algo == "sha256":
                hashes.append(value)
        if not hashes and archive.get("hash", "").startswith("sha256="):
            hashes.append(archive["hash"].split("=", 1)[1])
        pkg = {"name": meta["name"], "version": meta["version"], "url": url,
               "requested": bool(item.get("requested")), "hashes": hashes}
        if not hashes:  # the index serves no hashes: hash the file pip chose
            spec = url if url else "%s==%s" % (meta["name"], meta["version"])
            _, h = download_hash(pip, spec, index_args + (cross_download_args(cross) if cross else []), tmp)
            pkg["hashes"] = [h]
        out.append(pkg)
    return out


def cross_download_args(cross):
    args = ["--only-binary=:all:", "--python-version", cross["python_version"],
            "--implementation", cross["implementation"], "--abi", cross["abi"]]
    for tag in cross["platforms"]:
        args += ["--platform", tag]
    return args


def resolve_by_install(pip, req, index_args, tmp, venv, requested):
    """pip older than 22.2 has no --report: install for real into the
    throwaway container's venv, read what landed there, and hash what pip
    downloads for each."""
    args = ["install", "--quiet", "-r", req["requirements_file"]]
    if req.get("constraints_file"):
        args += ["-c", req["constraints_file"]]
    run_pip(pip, args + index_args)
    purelib = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()
    out = []
    for entry in sorted(os.listdir(purelib)):
        m = re.match(r"^(.+)-([^-]+)\.dist-info$", entry)
        if not m:
            continue
        name, version = m.group(1), m.group(2)
        with open(os.path.join(purelib, entry, "METADATA"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("Name:"):
                    name = line.split(":", 1)[1].strip()
                    break
        _, h = download_hash(pip, "%s==%s" % (name, version), index_args, tmp)
        out.append({"name": name, "version": version, "url": "", "requested": normalize(name) in requested,
                    "hashes": [h]})
    return out


def base_conflicts(dists, packages):
    """Distributions already in the image whose requirements the new
    packages would break."""
    try:
        from pip._vendor.packaging.requirements import Requirement
    except ImportError:
        return []
    new = {normalize(p["name"]): p["version"] for p in packages}
    out = []
    for name, (version, requires, display) in sorted(dists.items()):
        if name in new:
            continue
        for r in requires:
            try:
                req = Requirement(r)
            except Exception:
                continue
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            n = normalize(req.name)
            if n in new and req.specifier and not req.specifier.contains(new[n], prereleases=True):
                out.append("%s %s in the image requires %s, but the lock would install %s %s"
                           % (display, version, r, req.name, new[n]))
    return out


def main():
    with open(sys.argv[1]) as f:
        req = json.load(f)
    dists = distributions()
    result = {
        "python": platform.python_version(),
        "executable": getattr(sys, "_base_executable", None) or sys.executable,
        "implementation": sys.implementation.name,
        "pip": pip_version(),
        "externally_managed": os.path.exists(os.path.join(sysconfig.get_paths()["stdlib"], "EXTERNALLY-MANAGED")),
        "base": sorted([{"name": v[2], "version": v[0]} for v in dists.values()], key=lambda d: normalize(d["name"])),
        "framework": probe_framework(dists) if req.get("probe_framework") else {},
        "abi": "cp" + sysconfig.get_config_var("py_version_nodot") if sys.implementation.name == "cpython" else "none",
    }
    if req.get("probe_only"):
        print(json.dumps(result))
        return
    if result["pip"] is None:
        result["error"] = {"kind": "nopip"}
        print(json.dumps(result))
        sys.exit(3)
    tmp = tempfile.mkdtemp()
    try:
        pip = make_venv(req["venv"], req["venv_args"])
        index_args = []
        if req.get("index_file"):  # index URLs with credentials: never on argv
            index_args += ["-r", req["index_file"]]
        if req.get("index_url"):
            index_args += ["--index-url", req["index_url"]]
        for u in req.get("extra_index_urls") or []:
            index_args += ["--extra-index-url", u]
        for h in req.get("trusted_hosts") or []:
            index_args += ["--trusted-host", h]
        cross = req.get("cross")
        if cross and version_tuple(result["pip"]) < (22, 2):
            raise PipError("pip %s in this image cannot resolve for another platform (needs pip >= 22.2)" % result["pip"])
        if req.get("isolated") and version_tuple(result["pip"]) < (22, 2):
            raise PipError("pip %s in this image cannot lock build requirements (needs pip >= 22.2)" % result["pip"])
        if cross or req.get("isolated") or version_tuple(result["pip"]) >= (22, 2):
            packages = resolve_report(pip, req, index_args, tmp, cross)
        else:
            requested = {normalize(m.group(0)) for m in
                         (re.match(r"[A-Za-z0-9._-]+", l) for l in req["requirement_lines"]) if m}
            packages = resolve_by_install(pip, req, index_args, tmp, req["venv"], requested)
        if cross and not req.get("isolated"):  # drop what the image already has at that version
            packages = [p for p in packages
                        if not (normalize(p["name"]) in dists and dists[normalize(p["name"])][0] == p["version"])]
        result["packages"] = packages
        conflicts = [] if req.get("isolated") else base_conflicts(dists, packages)
        if conflicts:
            result["error"] = {"kind": "conflict", "message": "\n".join(conflicts)}
            print(json.dumps(result))
            sys.exit(4)
    except PipError as e:
        result["error"] = {"kind": "pip", "message": str(e)}
        print(json.dumps(result))
        sys.exit(5)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
