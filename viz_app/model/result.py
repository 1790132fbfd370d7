"""The plain result of a cost model: memory per pipeline stage, in MiB, by named block.

Every cost model (Galvatron profile, analytic) returns an `Estimate`; plots, the app and the
CLI read only this object. A stage's totals are sums of its blocks, so they cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..i18n import Text
from .errors import MemvizError
from .terms import Term

ACTIVATION = "activation"
MODEL_STATES = "model_states"
OVERHEAD = "overhead"
CATEGORIES = (ACTIVATION, MODEL_STATES, OVERHEAD)

# Keys of the model-state blocks every cost model fills; JSON keys derive from them.
PARAMETER = "model_states.parameter"
GRADIENT = "model_states.gradient"
OPTIMIZER = "model_states.optimizer"
GRAD_ACCUMULATE = "model_states.grad_accumulate"


@dataclass(frozen=True)
class Block:
    """One named piece of a stage's memory.

    `count` is how many identical units (layers, in-flight micro-batches) the block is made of,
    so a detailed treemap can split it; `formula` shows the computation with numbers plugged
    in and `source` where the formula comes from.
    """

    key: str
    category: str
    mib: float
    count: int = 1
    formula: str = ""
    source: str = ""

    @classmethod
    def of(cls, key: str, category: str, term: Term, count: int, source: str) -> Block:
        """A block whose size and formula are one term's value and text."""
        return cls(key, category, term.value, count, term.text, source)


@dataclass(frozen=True)
class Notice:
    """Something the user should know about an estimate (a warning, an extrapolation).

    `code` is stable (the UI translates by it), `message` is the English text, `values` the
    numbers the message mentions.
    """

    code: str
    message: str
    values: dict = field(default_factory=dict)


PHASE_KINDS = ("forward", "loss", "backward", "optimizer")


@dataclass(frozen=True)
class Phase:
    """One moment of a training step: MiB alive per block key (keys start with their category).

    `kind` is one of PHASE_KINDS; `number` counts the stage's passes of that kind (1 = first),
    `layer` is the layer whose backward runs (backward only).
    """

    kind: str
    blocks: dict[str, float]
    number: int = 0
    layer: int = 0

    @property
    def name(self) -> str:
        """The phase in English words ("backward 1, layer 32"); the i18n catalog has it as phase.<kind>."""
        if self.kind == "optimizer":
            return "optimizer step"
        return f"{self.kind} {self.number}" + (f", layer {self.layer}" if self.kind == "backward" else "")

    @property
    def text(self) -> Text:
        """The phase as the page shows it, in its language (catalog phase.<kind>)."""
        return Text(f"phase.{self.kind}", {"number": self.number, "layer": self.layer})

    def category_mib(self, category: str) -> float:
        return sum(mib for key, mib in self.blocks.items() if key.split(".")[0] == category)

    @property
    def total_mib(self) -> float:
        return sum(self.blocks.values())

    def to_json(self) -> dict:
        return {"phase": self.name, "kind": self.kind, "total_mib": self.total_mib,
                **{f"{category}_mib": self.category_mib(category) for category in CATEGORIES}}


@dataclass(frozen=True)
class StageEstimate:
    """Per-GPU memory of one pipeline stage."""

    stage: int
    layers: int
    blocks: tuple[Block, ...]
    # Memory through one training step (analytic mode); `blocks` are those alive at its peak.
    timeline: tuple[Phase, ...] = ()

    @property
    def peak_phase(self) -> str:
        """The phase of the step where the stage's peak happens ("" without a timeline)."""
        return max(self.timeline, key=lambda p: p.total_mib).name if self.timeline else ""

    def mib(self, key: str) -> float:
        """Sum of the blocks whose key is `key` or starts with `key.`."""
        return sum(b.mib for b in self.blocks if b.key == key or b.key.startswith(key + "."))

    def category_mib(self, category: str) -> float:
        return sum(b.mib for b in self.blocks if b.category == category)

    @property
    def activation_mib(self) -> float:
        return self.category_mib(ACTIVATION)

    @property
    def model_states_mib(self) -> float:
        return self.category_mib(MODEL_STATES)

    @property
    def overhead_mib(self) -> float:
        return self.category_mib(OVERHEAD)

    @property
    def total_mib(self) -> float:
        return sum(b.mib for b in self.blocks)

    @property
    def parameter_mib(self) -> float:
        return self.mib(PARAMETER)

    @property
    def gradient_mib(self) -> float:
        return self.mib(GRADIENT)

    @property
    def optimizer_mib(self) -> float:
        return self.mib(OPTIMIZER)

    @property
    def grad_accumulate_mib(self) -> float:
        return self.mib(GRAD_ACCUMULATE)

    def to_json(self) -> dict:
        """The CLI's per-stage JSON object (keys are a public interface: only add, never rename)."""
        return {
            "stage": self.stage,
            "layers": self.layers,
            "total_mib": self.total_mib,
            "activation_mib": self.activation_mib,
            "model_states_mib": self.model_states_mib,
            "overhead_mib": self.overhead_mib,
            "parameter_mib": self.parameter_mib,
            "gradient_mib": self.gradient_mib,
            "optimizer_mib": self.optimizer_mib,
            "grad_accumulate_mib": self.grad_accumulate_mib,
            "blocks": [
                {"key": b.key, "category": b.category, "mib": b.mib, "count": b.count}
                for b in self.blocks
            ],
            **({"peak_phase": self.peak_phase, "timeline": [p.to_json() for p in self.timeline]}
               if self.timeline else {}),
        }


class EstimateError(MemvizError):
    """Inputs that passed validation but gave a size no chart can show (a gap in the limits)."""


@dataclass(frozen=True)
class Estimate:
    """Per-GPU memory of every pipeline stage, plus notices about the estimate."""

    mode: str
    stages: tuple[StageEstimate, ...]
    notices: tuple[Notice, ...] = ()

    def __post_init__(self) -> None:
        """The one check that validated inputs gave sizes: finite, non-negative, and something to show.

        Every input is checked against model/limits.py first, so this never fires for them (the fuzz
        tests assert so); if a path was missed it stops a NaN, inf or negative size from reaching a
        chart, a verdict or `--json`.
        """
        if not self.stages:
            raise EstimateError(key="error.estimate_not_finite", block="total", stage=0, value=0)
        for stage in self.stages:
            for block in stage.blocks:
                if not (math.isfinite(block.mib) and block.mib >= 0):
                    raise EstimateError(key="error.estimate_not_finite", block=block.key, stage=stage.stage,
                                        value=block.mib)
            if not 0 < stage.total_mib < math.inf:
                raise EstimateError(key="error.estimate_not_finite", block="total", stage=stage.stage,
                                    value=stage.total_mib)

    @property
    def peak_stage(self) -> StageEstimate:
        """The most loaded stage (the one that decides whether the run fits)."""
        return max(self.stages, key=lambda s: s.total_mib)

    @property
    def warnings(self) -> list[str]:
        return [n.message for n in self.notices]

    def to_json(self) -> dict:
        return {
            "mode": self.mode,
            "stages": [s.to_json() for s in self.stages],
            "peak_stage": self.peak_stage.stage,
            "peak_total_mib": self.peak_stage.total_mib,
            **({"peak_phase": self.peak_stage.peak_phase} if self.peak_stage.timeline else {}),
            "warnings": self.warnings,
            "notices": [{"code": n.code, "message": n.message, "values": n.values} for n in self.notices],
        }
