"""How long the strategy explorer takes, in CPython and in Pyodide, against the targets.

    python benchmarks/explore.py [--repeat 7] [--no-pyodide]

CPython: the best of `--repeat` runs of each case in this process (after one warm-up run), the
model and configuration loaded beforehand. Pyodide: the same cases in Pyodide 0.27.7, the runtime
of the static site, run under node (not in a browser) from the build cache that `memviz build`
fills (build_cache/npm, build_cache/pyodide-0.27.7-packages, build_cache/pypi); the worktree is
mounted into its file system so it runs this checkout's code. Target: under 0.2 s in CPython,
under 2 s in the static site.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CPYTHON_TARGET_S = 0.2
PYODIDE_TARGET_S = 2.0
PYODIDE = ROOT / "build_cache" / "npm" / "pyodide-0.27.7"
WHEELS = (ROOT / "build_cache" / "pyodide-0.27.7-packages", ROOT / "build_cache" / "pypi")
# (label, mode, source, GPUs, global batch): the two target cases first.
CASES = (
    ("llama-3-70b, 512 GPUs, gbs 1024 (analytic)", "analytic", "llama-3-70b", 512, 1024),
    ("deepseek-v3, 2048 GPUs, gbs 4096 (analytic, MoE)", "analytic", "deepseek-v3", 2048, 4096),
    ("llama-3-70b, 2048 GPUs, gbs 4096 (analytic)", "analytic", "llama-3-70b", 2048, 4096),
    ("llama2-70b profile, 512 GPUs, gbs 1024 (Galvatron)", "galvatron", "llama2-70b", 512, 1024),
)

# Run in both runtimes: times each case, prints one JSON line.
TIMING_CODE = """
import json, time
from viz_app.model.config import TrainingConfig

def exploration(mode, source, gpus, gbs):
    config = TrainingConfig()
    if mode == "analytic":
        from viz_app.model.analytic.explore import explore_analytic
        from viz_app.model.analytic.frameworks import options_for
        from viz_app.model.analytic.model_presets import load_model_preset
        arch = load_model_preset(source)
        config.apply(**{**arch.config_defaults(), "global_batch_size": gbs})
        options = options_for({"framework": "megatron"})
        return lambda: explore_analytic(arch, config, options, gpus, 81559.0)
    from viz_app.model.galvatron.explore import explore_galvatron
    from viz_app.model.galvatron.presets import load_preset
    profile = load_preset(source)
    config.apply(**{**profile.config_defaults(), "global_batch_size": gbs})
    return lambda: explore_galvatron(profile, config, gpus, 81559.0)

def timings(cases, repeat):
    results = []
    for label, mode, source, gpus, gbs in cases:
        run = exploration(mode, source, gpus, gbs)
        count = len(run())
        best = min(_timed(run) for _ in range(repeat))
        results.append({"label": label, "strategies": count, "seconds": best})
    return results

def _timed(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start
"""

NODE_SCRIPT = """
const { loadPyodide } = require(process.argv[2] + "/pyodide.js");
(async () => {
  const pyodide = await loadPyodide({ indexURL: process.argv[2] + "/" });
  await pyodide.loadPackage(JSON.parse(process.argv[3]));
  pyodide.FS.mkdirTree("/checkout");
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: process.argv[4] }, "/checkout");
  const out = pyodide.runPython(process.argv[5]);
  console.log(out);
})().catch((error) => { console.error(error); process.exit(1); });
"""


def cpython(repeat: int) -> list[dict]:
    namespace: dict = {}
    exec(TIMING_CODE, namespace)  # noqa: S102 - our own code, shared with the Pyodide run
    return namespace["timings"](CASES, repeat)


def pyodide(repeat: int) -> list[dict] | str:
    """The timings under Pyodide in node, or why they could not be taken."""
    node = shutil.which("node")
    if not node:
        return "node is not installed"
    wheels = [str(next(folder.glob(f"{name}-*.whl"))) for folder, name in
              ((WHEELS[0], "numpy"), (WHEELS[1], "param")) if any(folder.glob(f"{name}-*.whl"))]
    if not (PYODIDE / "pyodide.js").is_file() or len(wheels) < 2:
        return "no Pyodide build cache: run `memviz build` once to fill build_cache/"
    code = ("import sys; sys.path.insert(0, '/checkout')\n" + TIMING_CODE
            + f"\njson.dumps(timings({CASES!r}, {repeat}))")
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "run.cjs"
        script.write_text(NODE_SCRIPT, encoding="utf-8")
        result = subprocess.run([node, str(script), str(PYODIDE), json.dumps([f"file://{w}" for w in wheels]),
                                 str(ROOT), code], capture_output=True, text=True, timeout=600, check=False)
    if result.returncode:
        return f"node failed: {result.stderr.strip()[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def report(runtime: str, results: list[dict] | str, target_s: float) -> None:
    print(f"{runtime} (target < {target_s:g} s):")
    if isinstance(results, str):
        print(f"  not measured: {results}")
        return
    for r in results:
        verdict = "ok" if r["seconds"] < target_s else "OVER TARGET"
        print(f"  {r['label']:52} {r['strategies']:>7} strategies  {r['seconds']:.3f} s  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-pyodide", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    report("CPython " + sys.version.split()[0], cpython(args.repeat), CPYTHON_TARGET_S)
    if not args.no_pyodide:
        report("Pyodide 0.27.7 under node " + (subprocess.run(["node", "--version"], capture_output=True,
                                                             text=True).stdout.strip() if shutil.which("node") else ""),
               pyodide(args.repeat), PYODIDE_TARGET_S)
    print(f"(whole benchmark {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
