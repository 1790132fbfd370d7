"""`memviz build`: the static, offline Pyodide site (see docs/static-site.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from . import fetch, offline, page, pins, ship, wheels
from .fetch import BuildError, BuildSetupError, sha256_of

__all__ = ["BuildError", "BuildSetupError", "build_site"]

PACKAGE_DIR = Path(__file__).resolve().parent.parent
PYODIDE_DIR = "pyodide/"
MANIFEST = "memviz-manifest.json"


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def default_cache() -> Path:
    return Path(os.environ.get("MEMVIZ_BUILD_CACHE", "build_cache")).resolve()


def _check_installed_versions() -> None:
    # The page is pre-rendered by the installed panel/bokeh; the browser runs the pinned wheels.
    from importlib.metadata import version

    for dist in ("panel", "bokeh", "holoviews", "param"):
        if version(dist) != pins.PURE_WHEELS[dist][0]:
            raise BuildSetupError(f"{dist} {version(dist)} is installed but the site pins {pins.PURE_WHEELS[dist][0]}: "
                             f"pip install {dist}=={pins.PURE_WHEELS[dist][0]}")


def _start_convert(entry: Path, work: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "viz_app.site.convert", str(entry), str(work)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PACKAGE_DIR.parent)


def _finish_convert(process: subprocess.Popen, work: Path) -> tuple[str, str, set[str]]:
    _out, err = process.communicate()
    if process.returncode != 0:
        raise BuildError(f"panel convert of the app failed:\n{err.strip()[-2000:]}")
    imported = {_norm(d) for d in json.loads((work / "imports.json").read_text(encoding="utf-8"))}
    return (work / "app.html").read_text(encoding="utf-8"), (work / "app.js").read_text(encoding="utf-8"), imported


def _select(imported: set[str], lock: dict) -> tuple[list[str], list[str], list[str]]:
    """Which pure wheels, fallback-only wheels and official packages the app needs."""
    pure = sorted(d for d in pins.PURE_WHEELS if d in imported)
    fallback_only = sorted(d for d in pins.PURE_FROM_PLATFORM_WHEEL if d in imported)
    official = set(fetch.lock_closure([d for d in pins.OFFICIAL_PACKAGES if d in imported], lock))
    unknown = sorted(imported - set(pure) - set(fallback_only) - official - pins.SERVER_ONLY)
    if unknown:
        raise BuildError(f"the app imports {', '.join(unknown)}, which the static site does not ship: "
                         "pin it in viz_app/site/pins.py")
    return pure, fallback_only, sorted(official)


def _imports_of(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {n.split("/")[0].removesuffix(".pyc").removesuffix(".py") for n in names if ".dist-info/" not in n}
    return sorted(t for t in tops if t.isidentifier())


def fetch_downloads(cache: Path, work: Path) -> tuple[Path, dict, dict, dict, dict]:
    """Everything the build downloads, into `cache` (each file checked against its pin), under the cache's lock.

    Returns the Pyodide core, its lock file, and the pure, fallback-only and official packages' files.
    """
    with fetch.cache_lock(cache):
        core = fetch.pyodide_core(cache)
        lock = fetch.read_lock(core)
        pure_files = fetch.pypi_files(cache, pins.PURE_WHEELS)
        fallback_files = wheels.fallback_only_wheels(cache, work)
        official_files = fetch.official_packages(cache, lock, fetch.lock_closure(pins.OFFICIAL_PACKAGES, lock))
    return core, lock, pure_files, fallback_files, official_files


def build_site(out: Path, entry: Path | None = None, cache: Path | None = None, ship_snapshot: bool = False) -> dict:
    """Build the site into `out` (replacing an earlier build there); returns a summary for the CLI.

    `ship_snapshot`: run the site once in Chromium and ship the memory snapshot it takes (ship.py).
    """
    started = time.monotonic()
    out, cache = Path(out).resolve(), (cache or default_cache())
    entry = (entry or PACKAGE_DIR / "main.py").resolve()
    _check_installed_versions()
    _check_replaceable(out)
    if ship_snapshot:
        ship.chromium_executable()  # before the work, not after it
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="memviz-build-") as tmp:
        work = Path(tmp)
        converting = _start_convert(entry, work / "convert")
        try:
            core, lock, pure_files, fallback_files, official_files = fetch_downloads(cache, work)
        finally:
            html, worker, imported = _finish_convert(converting, work / "convert")
        pure, fallback_only, official = _select(imported, lock)

        staging = out.with_name(out.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        site = page.Site(staging)
        sources = {d: f"pypi:{d}=={pins.PURE_WHEELS[d][0]} sha256:{pins.PURE_WHEELS[d][1]}" for d in pins.PURE_WHEELS}
        jobs, entries = _package_jobs(site, work, pure, fallback_only, official, pure_files, fallback_files,
                                      official_files, lock, sources)
        python = wheels.bytecode_python()
        with fetch.cache_lock(cache):
            wheels.repack_all([*jobs, _stdlib_job(site, core)], cache, python)
        for entry_ in entries.values():
            wheel = staging / PYODIDE_DIR / entry_["file_name"]
            entry_.update(sha256=sha256_of(wheel), imports=entry_.get("imports") or _imports_of(wheel))
        _write_core(site, core, lock, entries)
        missing_css = _write_page(site, html, worker, entry, entries, pure_files, sources, ship_snapshot)
        offline.write_pwa(site)
        snapshot = ship.ship_snapshot(site) if ship_snapshot else None
        manifest, version = _write_manifest(site)
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
    return {
        "out": str(out), "version": version, "files": len(manifest) + 1,
        "site_bytes": sum(p.stat().st_size for p in out.rglob("*") if p.is_file()),
        "packages": {name: e["version"] for name, e in sorted(entries.items())},
        "bytecode": python or "none (no CPython 3.12 found: shipped .py sources)",
        "missing_panel_assets": missing_css, "snapshot": snapshot, "seconds": round(time.monotonic() - started, 1),
    }


def _check_replaceable(out: Path) -> None:
    # The build replaces `out` whole: never a folder that is not an earlier build.
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise BuildSetupError(f"{out} exists and is not a memviz build (no {MANIFEST}): choose another --out")


def _write_page(site, html, worker, entry, entries, pure_files, sources, ships_snapshot) -> list[str]:
    """index.html and the worker, self-contained; returns Panel assets the page names but Panel lacks."""
    origin = f"generated from `panel convert --to pyodide-worker` of {entry.name}"
    packages = {name: e["sha256"] for name, e in entries.items()}
    worker = page.rewrite_worker(worker, packages, entry.read_text(encoding="utf-8"), ships_snapshot)
    worker_rel = site.write_hashed("static/app.js", worker.encode(), origin)
    html, wanted = page.rewrite_page(
        html, site, pure_files["bokeh"], pure_files["panel"], sources, worker_rel,
        (page.TEMPLATES / "head.html").read_text(encoding="utf-8"),
        (page.TEMPLATES / "register.html").read_text(encoding="utf-8"))
    missing = page.copy_panel_assets(site, pure_files["panel"], set(wanted), sources["panel"])
    site.write("index.html", html.encode(), origin)
    return missing


def _write_manifest(site) -> tuple[list[dict], str]:
    """sw.js (versioned by the site's hashes) and memviz-manifest.json listing every file."""
    hashes = {rel: sha256_of(site.out / rel) for rel in site.sources}
    version = offline.write_service_worker(site, hashes)
    hashes["sw.js"] = sha256_of(site.out / "sw.js")
    manifest = [{"path": rel, "bytes": (site.out / rel).stat().st_size, "sha256": hashes[rel],
                 "source": site.sources[rel]} for rel in sorted(hashes)]
    site.write(MANIFEST, json.dumps({"pyodide": pins.PYODIDE_VERSION, "version": version, "files": manifest},
                                    indent=1).encode(), "generated")
    return manifest, version


def _package_jobs(site, work, pure, fallback_only, official, pure_files, fallback_files, official_files, lock,
                  sources):
    """Repack jobs for every shipped package, and their pyodide-lock.json entries (hash filled later)."""
    target = site.out / PYODIDE_DIR
    target.mkdir(parents=True, exist_ok=True)
    jobs, entries = [], {}

    def add(name, version, src, input_sha, source, drop=(), keep=(), depends=(), imports=None):
        file_name = lock["packages"][name]["file_name"] if name in official else wheels.wheel_name(name, version)
        jobs.append({"src": str(src), "dst": str(target / file_name), "drop": list(drop), "keep": list(keep),
                     "compile": True, "input_sha256": input_sha, "prefix": "/lib/python3.12/site-packages/"})
        entries[name] = {"name": name, "version": version, "file_name": file_name, "install_dir": "site",
                         "package_type": "package", "depends": list(depends), "imports": imports or [],
                         "unvendored_tests": False, "shared_library": False}
        site.sources[PYODIDE_DIR + file_name] = source

    for dist in pure:
        version, sha = pins.PURE_WHEELS[dist]
        drop = pins.WHEEL_DROP.get(dist, ())
        keep = pins.WHEEL_KEEP.get(dist, ())
        note = ", JS removed" if drop else ""
        add(dist, version, pure_files[dist], sha, f"{sources[dist]}{note}, precompiled", drop, keep)
    for dist in fallback_only:
        version, sha, package = pins.PURE_FROM_PLATFORM_WHEEL[dist]
        made = fallback_files[dist]
        add(dist, version, made, sha256_of(made),
            f"pypi:{dist}=={version} cp312 manylinux wheel sha256:{sha}, its {package}/*.py only "
            "(the pure-Python fallback), precompiled")
    for name in official:
        official_entry = lock["packages"][name]
        add(name, official_entry["version"], official_files[name], official_entry["sha256"],
            f"pyodide {pins.PYODIDE_VERSION} official {official_entry['file_name']} "
            f"sha256:{official_entry['sha256']} (checked against the npm lock), precompiled",
            drop=("*/tests/*",), depends=official_entry["depends"], imports=official_entry["imports"])
    own, digest = wheels.project_wheel(PACKAGE_DIR, work)
    add("memviz", own.name.split("-")[1], own, digest, "this checkout (viz_app + presets), precompiled")
    return jobs, entries


def _stdlib_job(site: page.Site, core: Path) -> dict:
    stdlib = core / "python_stdlib.zip"
    site.sources[PYODIDE_DIR + stdlib.name] = f"npm:pyodide@{pins.PYODIDE_VERSION} {stdlib.name}, precompiled"
    return {"src": str(stdlib), "dst": str(site.out / PYODIDE_DIR / stdlib.name), "drop": [], "compile": True,
            "input_sha256": sha256_of(stdlib), "prefix": "/lib/python312.zip/"}


def _write_core(site: page.Site, core: Path, lock: dict, entries: dict) -> None:
    source = f"npm:pyodide@{pins.PYODIDE_VERSION} sha256:{pins.PYODIDE_NPM[2]}"
    for name in ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm"):
        site.write(PYODIDE_DIR + name, (core / name).read_bytes(), f"{source} {name}")
    extended = {"info": lock["info"], "packages": entries}
    site.write(PYODIDE_DIR + "pyodide-lock.json", json.dumps(extended, indent=1, sort_keys=True).encode(),
               f"{source} pyodide-lock.json: official entries of the shipped packages, plus the site's wheels")
