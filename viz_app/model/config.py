"""The training configuration: one Parameterized object that the app, the URL and the CLI share.

It carries Galvatron's coupling rules (its config panel's behaviour) so that any front end that
binds to it behaves the same: dp follows GPUs / (tp * pp), chunks follow gbs / (dp * mbs), gbs
follows chunks. Violated constraints are reported as data (`constraint_notices`), never fixed
silently, because the estimate still runs (as in Galvatron).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import param

from .errors import param_values_checked
from .limits import LIMITS, bounds, checked
from .result import Notice

ZERO_STAGES = (0, 1, 2, 3)  # off; optimizer states; + gradients; + parameters (Rajbhandari et al. 2020)

# Order in which explicitly given values are applied, so later rules see earlier choices.
APPLY_ORDER = (
    "mixed_precision", "sequence_parallel", "checkpoint", "zero_stage", "seq_length", "num_layers",
    "tp", "pp", "total_gpus", "dp", "micro_batch_size", "global_batch_size", "chunks", "ep", "etp", "stage",
)


class TrainingConfig(param.Parameterized):
    """A parallel training strategy for one model, as Galvatron's visualizer describes it."""

    tp = param.Integer(8, bounds=bounds("tp"), softbounds=(1, 16), doc="Tensor-parallel degree.")
    pp = param.Integer(1, bounds=bounds("pp"), softbounds=(1, 16), doc="Pipeline-parallel degree (stages).")
    dp = param.Integer(
        1, bounds=bounds("dp"), softbounds=(1, 512),
        doc="Data-parallel degree; follows total GPUs / (TP x PP) when those change.",
    )
    total_gpus = param.Integer(8, bounds=bounds("total_gpus"), softbounds=(1, 512), doc="Number of GPUs in the job.")
    micro_batch_size = param.Integer(
        1, bounds=bounds("micro_batch_size"), softbounds=(1, 64),
        doc="Samples per micro-batch (MBS).",
    )
    global_batch_size = param.Integer(
        8, bounds=bounds("global_batch_size"), softbounds=(1, 1024),
        doc="Samples per optimizer step over all data-parallel ranks (GBS).",
    )
    chunks = param.Integer(
        8, bounds=bounds("chunks"), softbounds=(1, 32),
        doc="Micro-batches per step per pipeline (gradient accumulation steps).",
    )
    zero_stage = param.Integer(0, bounds=(ZERO_STAGES[0], ZERO_STAGES[-1]),
                               doc="ZeRO stage: 0 off, 1 optimizer, 2 + gradients, 3 + parameters.")
    checkpoint = param.Boolean(False, doc="Full activation checkpointing (recompute every layer in backward).")
    sequence_parallel = param.Boolean(True, doc="Megatron sequence parallelism (activations split over TP ranks).")
    mixed_precision = param.Boolean(True, doc="bf16/fp16 training with fp32 master weights; off = pure fp32.")
    seq_length = param.Integer(
        128, bounds=bounds("seq_length"), softbounds=(64, 4096), step=16,
        doc="Sequence length in tokens.",
    )
    num_layers = param.Integer(
        12, bounds=bounds("num_layers"), softbounds=(1, 100),
        doc="Transformer layers in the model.",
    )
    stage = param.Integer(0, bounds=bounds("stage"), doc="Pipeline stage shown in detail (0 .. pp-1).")
    # Mixture-of-experts models only (analytic mode); their validity: analytic/expert_parallel.py.
    ep = param.Integer(
        1, bounds=bounds("ep"), softbounds=(1, 64), doc="Expert-parallel degree: experts dealt over EP GPUs.",
    )
    etp = param.Integer(
        1, bounds=bounds("etp"), softbounds=(1, 8), doc="Expert tensor-parallel degree: each expert's width split "
                                                        "over ETP GPUs.",
    )

    def __init__(self, **params):
        self._coupling = False
        super().__init__(**params)
        self.param.watch(
            self._couple, ["tp", "pp", "total_gpus", "dp", "micro_batch_size", "global_batch_size", "chunks"]
        )

    @contextlib.contextmanager
    def coupling_paused(self) -> Iterator[None]:
        """Set values verbatim, without the coupling rules (used to restore a saved state)."""
        previous, self._coupling = self._coupling, True
        try:
            yield
        finally:
            self._coupling = previous

    def _couple(self, *events: param.parameterized.Event) -> None:
        if self._coupling:
            return
        changed = {e.name for e in events}
        with self.coupling_paused():
            update: dict[str, int] = {}
            dp = self.dp
            if changed & {"tp", "pp", "total_gpus"}:
                dp = max(1, self.total_gpus // (self.tp * self.pp))
                update["dp"] = dp
            elif "dp" in changed:
                # Not a Galvatron control (its DP is derived); typing DP means "this many replicas".
                update["total_gpus"] = self.tp * self.pp * dp
            if "chunks" in changed and not changed & {"global_batch_size", "micro_batch_size"}:
                update["global_batch_size"] = self.chunks * dp * self.micro_batch_size
            else:
                update["chunks"] = max(1, self.global_batch_size // (dp * self.micro_batch_size))
            if "pp" in changed:
                update["stage"] = min(self.stage, self.pp - 1)
            # A derived value past its limit stops there; constraint_notices then names the contradiction.
            self.param.update(**{name: min(value, self.param[name].bounds[1]) for name, value in update.items()})

    @param.depends("stage", watch=True)
    def _keep_stage_valid(self) -> None:
        if self.stage > self.pp - 1:
            self.stage = self.pp - 1

    def apply(self, **values) -> None:
        """Set several values as a user would, one at a time in a fixed order, with coupling.

        Values given explicitly win over derived ones: after the coupled pass they are set
        again verbatim, and any contradiction shows up in `constraint_notices`. Every value is checked
        against its limit before any is set, so a refused one changes nothing.
        """
        unknown = set(values) - set(APPLY_ORDER)
        if unknown:
            raise TypeError(f"unknown configuration keys: {', '.join(sorted(unknown))}")
        for name in APPLY_ORDER:
            if name in values and name in LIMITS:
                checked(name, values[name])
        with param_values_checked():
            for name in APPLY_ORDER:
                if name in values:
                    setattr(self, name, values[name])
            with self.coupling_paused():
                self.param.update(**{k: v for k, v in values.items() if k != "stage"})
        if "stage" in values:
            self.stage = min(values["stage"], self.pp - 1)

    def values(self) -> dict:
        """The configuration as plain values, in `apply` order."""
        return {name: getattr(self, name) for name in APPLY_ORDER}

    def constraint_notices(self) -> list[Notice]:
        """Galvatron's two consistency checks, as data; the estimate runs either way."""
        notices = []
        gpus = self.tp * self.pp * self.dp
        if gpus != self.total_gpus:
            notices.append(Notice(
                "gpus_mismatch",
                f"TP x PP x DP = {self.tp} x {self.pp} x {self.dp} = {gpus}, but Total GPUs = {self.total_gpus}",
                {"tp": self.tp, "pp": self.pp, "dp": self.dp, "product": gpus, "total_gpus": self.total_gpus},
            ))
        gbs = self.micro_batch_size * self.dp * self.chunks
        if gbs != self.global_batch_size:
            notices.append(Notice(
                "gbs_mismatch",
                f"MBS x DP x Chunks = {self.micro_batch_size} x {self.dp} x {self.chunks} = {gbs}, "
                f"but GBS = {self.global_batch_size}",
                {"mbs": self.micro_batch_size, "dp": self.dp, "chunks": self.chunks, "product": gbs,
                 "gbs": self.global_batch_size},
            ))
        return notices


def nearest_at_most(value: int, choices: list[int]) -> int:
    """`value` if allowed, else the largest allowed degree below it (else the smallest allowed).

    Used when a newly chosen model or profile cannot take the current TP: the user keeps as much
    parallelism as the model allows.
    """
    if value in choices:
        return value
    return max((c for c in choices if c <= value), default=min(choices))
