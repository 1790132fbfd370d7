"""GPU memory capacities and the fits / out-of-memory verdict for an estimate.

Capacities are the total memory `nvidia-smi` reports for each card, in MiB: the marketing "80 GB"
is not 80 * 2^30 bytes on every card (an H100 80GB HBM3 reports 81559 MiB, an A100 80GB 81920),
so the verdict compares like with like.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MemvizError
from .result import Estimate


@dataclass(frozen=True)
class Gpu:
    key: str
    name: str
    marketing_gb: int
    capacity_mib: float


GPUS = (
    Gpu("24", "A10 / L4", 24, 23028.0),  # A10 reports 23028 MiB, L4 23034 (an RTX 4090: 24564)
    Gpu("40", "A100", 40, 40960.0),
    Gpu("48", "L40S / A6000", 48, 46068.0),
    Gpu("80", "A100 / H100", 80, 81559.0),  # H100 HBM3; A100 80GB reports 81920
    Gpu("94", "H100 NVL", 94, 95830.0),
    Gpu("141", "H200", 141, 143771.0),
    Gpu("192", "B200", 192, 183359.0),
)
GPU_BY_KEY = {g.key: g for g in GPUS}
CUSTOM = "custom"
DEFAULT_GPU = "80"


def catalogue_capacity_mib(key: str) -> float:
    """Capacity of the catalogue GPU `key` (its marketing size in GB: "80"); a clear error otherwise."""
    if key not in GPU_BY_KEY:
        choices = ", ".join(f"{g.key} ({g.name})" for g in GPUS)
        raise MemvizError(f"--gpu {key}: not a GPU of the catalogue; choose one of {choices}, or give --gpu-mib")
    return GPU_BY_KEY[key].capacity_mib


def gpu_capacity_mib(key: str, custom_gib: float) -> float:
    """Capacity of a catalogue GPU, or of a custom card given in GiB."""
    if key == CUSTOM:
        return custom_gib * 1024.0
    return GPU_BY_KEY[key].capacity_mib


@dataclass(frozen=True)
class Verdict:
    """Whether the most loaded stage fits, and by how much."""

    fits: bool
    peak_mib: float
    capacity_mib: float
    peak_stage: int

    @property
    def headroom_mib(self) -> float:
        """Free memory on the most loaded GPU (negative: how much is missing)."""
        return self.capacity_mib - self.peak_mib


def verdict(estimate: Estimate, capacity_mib: float) -> Verdict:
    peak = estimate.peak_stage
    return Verdict(peak.total_mib <= capacity_mib, peak.total_mib, capacity_mib, peak.stage)
