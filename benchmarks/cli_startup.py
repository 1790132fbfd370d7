"""Time `memviz estimate --preset llama3-8b --json` end to end (process start to exit).

Target: under 0.5 s on the 2-core reference machine. Prints the median and best of N runs.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 11
COMMAND = [sys.executable, "-m", "viz_app.cli", "estimate", "--preset", "llama3-8b", "--json"]


def main() -> None:
    seconds = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(COMMAND, check=True, stdout=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - start)
    print(f"memviz estimate: median {statistics.median(seconds) * 1000:.0f} ms, "
          f"best {min(seconds) * 1000:.0f} ms over {RUNS} runs (target < 500 ms)")


if __name__ == "__main__":
    main()
