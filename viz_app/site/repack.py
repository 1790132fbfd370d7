"""Rewrite wheels and zips for the browser: drop files, precompile Python to bytecode.

Standard library only, so the build can run it with the CPython whose bytecode Pyodide runs
(3.12 for Pyodide 0.27.7): `python3.12 repack.py jobs.json`. Each job turns `src` into `dst`,
leaving out entries matching `drop` (unless they match `keep`) and, when `compile` is set,
replacing each .py by a sourceless .pyc next to it. Output is deterministic (sorted entries,
fixed timestamps) so an unchanged input gives a byte-identical file.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import importlib.util
import json
import marshal
import sys
import zipfile
from concurrent.futures import ProcessPoolExecutor

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _bytecode(source: bytes, filename: str) -> bytes | None:
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError:
        return None  # e.g. a template file named .py: keep it as source
    # Header: magic, flags 0 (timestamp pyc), mtime 0, size 0; sourceless loaders skip the check.
    return importlib.util.MAGIC_NUMBER + bytes(12) + marshal.dumps(code)


def _record(entries: dict[str, bytes], record_name: str) -> bytes:
    lines = []
    for name, data in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{name},sha256={digest},{len(data)}")
    lines.append(f"{record_name},,")
    return ("\n".join(lines) + "\n").encode()


def repack(job: dict) -> dict:
    """Apply one job; returns counts for the build summary."""
    drop, keep, prefix = job.get("drop", []), job.get("keep", []), job.get("prefix", "")
    entries: dict[str, bytes] = {}
    compiled = dropped = 0
    record_name = None
    with zipfile.ZipFile(job["src"]) as source:
        for info in source.infolist():
            name = info.filename
            if info.is_dir():
                continue
            if name.endswith(".dist-info/RECORD"):
                record_name = name
                continue
            if _matches(name, drop) and not _matches(name, keep):
                dropped += 1
                continue
            data = source.read(name)
            if job.get("compile") and name.endswith(".py") and ".dist-info/" not in name:
                pyc = _bytecode(data, prefix + name)
                if pyc is not None:
                    entries[name + "c"] = pyc
                    compiled += 1
                    continue
            entries[name] = data
    entries = dict(sorted(entries.items()))
    if record_name:
        entries[record_name] = _record(entries, record_name)
    with zipfile.ZipFile(job["dst"], "w", zipfile.ZIP_DEFLATED, compresslevel=6) as target:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, data)
    return {"dst": job["dst"], "files": len(entries), "compiled": compiled, "dropped": dropped}


def run(jobs: list[dict], workers: int = 2) -> list[dict]:
    if len(jobs) < 2 or workers < 2:
        return [repack(job) for job in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(repack, jobs))


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        print(json.dumps(run(json.load(handle))))
