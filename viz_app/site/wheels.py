"""The wheels the site ships: pure ones, fallback-only ones and the checkout's, then slimmed and precompiled."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from . import fetch, pins, repack
from .fetch import BuildError

# Bump when the repacking rules change, so cached outputs are not reused.
RECIPE_VERSION = "1"
WHEEL_FILE = b"Wheel-Version: 1.0\nGenerator: memviz-build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def write_wheel(path: Path, name: str, version: str, files: dict[str, bytes], metadata: str) -> Path:
    """A minimal py3-none-any wheel (RECORD is written by repack)."""
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    tops = sorted({n.split("/")[0].removesuffix(".py") for n in files})
    entries = {
        **files,
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": WHEEL_FILE,
        f"{dist_info}/top_level.txt": ("\n".join(tops) + "\n").encode(),
        f"{dist_info}/RECORD": b"",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for arcname, data in sorted(entries.items()):
            archive.writestr(zipfile.ZipInfo(arcname, repack.FIXED_TIME), data)
    return path


def wheel_name(name: str, version: str) -> str:
    return f"{name.replace('-', '_')}-{version}-py3-none-any.whl"


def pure_wheel_from_platform_wheel(platform_wheel: Path, dist: str, version: str, package: str, out: Path) -> Path:
    """The pure-Python half of a C-accelerated wheel (its official fallback), as a py3-none-any wheel."""
    files, metadata = {}, ""
    with zipfile.ZipFile(platform_wheel) as archive:
        for name in archive.namelist():
            if name.endswith(".dist-info/METADATA"):
                metadata = archive.read(name).decode()
            elif name.startswith(package + "/") and name.endswith((".py", "py.typed")):
                files[name] = archive.read(name)
    if not files or not metadata:
        raise BuildError(f"{platform_wheel.name}: no Python sources under {package}/")
    return write_wheel(out / wheel_name(dist, version), dist, version, files, metadata)


def fallback_only_wheels(cache: Path, out: Path) -> dict[str, Path]:
    """Every PURE_FROM_PLATFORM_WHEEL distribution as a py3-none-any wheel in `out`."""
    wanted = {dist: (version, sha) for dist, (version, sha, _package) in pins.PURE_FROM_PLATFORM_WHEEL.items()}
    downloaded = fetch.pypi_files(cache, wanted, pins.PLATFORM_WHEEL_TAGS)
    return {dist: pure_wheel_from_platform_wheel(downloaded[dist], dist, version, package, out)
            for dist, (version, _sha, package) in pins.PURE_FROM_PLATFORM_WHEEL.items()}


def project_wheel(package_dir: Path, out: Path) -> tuple[Path, str]:
    """The memviz package as the browser needs it: model, plots, UI, i18n and presets."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        version = dist_version("memviz")
    except PackageNotFoundError:
        version = "0.0.0"
    skip = ("viz_app/site/", "viz_app/browser/templates/", "viz_app/cli.py", "viz_app/serve.py", "viz_app/main.py")
    files = {}
    for path in sorted(package_dir.rglob("*")):
        rel = "viz_app/" + path.relative_to(package_dir).as_posix()
        if path.is_file() and "__pycache__" not in rel and not rel.startswith(skip) and path.suffix != ".pyc":
            files[rel] = path.read_bytes()
    presets = package_dir / "presets"
    if not presets.is_dir():  # a checkout: presets live beside the package (pyproject force-include)
        presets = package_dir.parent / "presets"
    for path in sorted(presets.rglob("*.json")):
        files[f"viz_app/presets/{path.relative_to(presets).as_posix()}"] = path.read_bytes()
    digest = hashlib.sha256(json.dumps(sorted((k, hashlib.sha256(v).hexdigest()) for k, v in files.items()))
                            .encode()).hexdigest()[:12]
    # A local version label naming the content: a changed app is a new file name (cacheable forever).
    version = f"{version}+{digest}"
    metadata = f"Metadata-Version: 2.1\nName: memviz\nVersion: {version}\n"
    return write_wheel(out / wheel_name("memviz", version), "memviz", version, files, metadata), digest


def bytecode_python() -> str | None:
    """A CPython with the same bytecode as Pyodide's Python (3.12), if this machine has one."""
    major, minor = pins.PYODIDE_PYTHON
    if sys.version_info[:2] == (major, minor):
        return sys.executable
    candidates = [os.environ.get("MEMVIZ_PY312", ""), f"python{major}.{minor}",
                  *sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{major}.{minor}.*/bin/python")))]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True) if _exists(candidate) else None
        if probe and probe.returncode == 0 and probe.stdout.strip() == str((major, minor)):
            return candidate
    return None


def _exists(command: str) -> bool:
    return bool(shutil.which(command)) or Path(command).is_file()


def repack_all(jobs: list[dict], cache: Path, python: str | None) -> list[dict]:
    """Run repack jobs, reusing outputs cached under the hash of their input and recipe."""
    done, todo = [], []
    for job in jobs:
        key = hashlib.sha256(json.dumps([RECIPE_VERSION, bool(python) and job.get("compile"), job["drop"],
                                         job.get("keep", []), job["input_sha256"]]).encode()).hexdigest()[:16]
        cached = cache / "repacked" / key / Path(job["dst"]).name
        job = {**job, "cached": str(cached), "compile": bool(python) and job.get("compile", False)}
        (done if cached.is_file() else todo).append(job)
    if todo:
        for job in todo:
            Path(job["cached"]).parent.mkdir(parents=True, exist_ok=True)
        specs = [{**job, "dst": job["cached"]} for job in todo]
        if python:
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
                json.dump(specs, handle)
            result = subprocess.run([python, repack.__file__, handle.name], capture_output=True, text=True)
            Path(handle.name).unlink()
            if result.returncode != 0:
                raise BuildError(f"precompiling with {python} failed: {result.stderr.strip()[-300:]}")
        else:
            repack.run(specs)
    for job in done + todo:
        shutil.copyfile(job["cached"], job["dst"])
    used = {Path(job["cached"]).parent.name for job in done + todo}
    for stale in (cache / "repacked").iterdir():  # outputs of older app versions or recipes
        if stale.name not in used:
            shutil.rmtree(stale, ignore_errors=True)
    return done + todo
