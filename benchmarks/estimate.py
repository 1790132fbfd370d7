"""Time of one analytic estimate (every stage walked through one training step), in CPython.

    python benchmarks/estimate.py [--runs 50]

Prints the median milliseconds per estimate for a few strategies, and how many phases the
timelines hold. The app recomputes the estimate on every change, so this is part of a redraw
(the static site runs the same code in Pyodide, a few times slower).
"""

from __future__ import annotations

import argparse
import statistics
import time

from viz_app.model.analytic import AnalyticOptions, estimate_analytic
from viz_app.model.analytic.model_presets import load_model_preset
from viz_app.model.config import TrainingConfig

CASES = {
    "llama-3-8b tp1 pp1": ("llama-3-8b", dict(tp=1, pp=1, total_gpus=8), {}),
    "llama-3-70b 126 layers tp8 pp1": ("llama-3-70b", dict(num_layers=126, tp=8, pp=1, total_gpus=64), {}),
    "llama-3-70b 126 layers tp8 pp8 v2": (
        "llama-3-70b", dict(num_layers=126, tp=8, pp=8, total_gpus=512, global_batch_size=512),
        dict(schedule="interleaved", virtual_stages=2, embedding_in_pipeline_split=True, loss_in_pipeline_split=True)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    for name, (model, strategy, options) in CASES.items():
        arch = load_model_preset(model)
        config = TrainingConfig()
        config.apply(**{**arch.config_defaults(), **strategy})
        analytic = AnalyticOptions(**options)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            estimate = estimate_analytic(config, arch, analytic)
            times.append(time.perf_counter() - start)
        phases = sum(len(s.timeline) for s in estimate.stages)
        print(f"{name:40s} {1000 * statistics.median(times):7.2f} ms  {phases} phases")


if __name__ == "__main__":
    main()
