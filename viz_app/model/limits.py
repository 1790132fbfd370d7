"""The range of every number a user gives, in one place: each size that drives work has a ceiling.

Every front end reads these: the parameters' bounds (so the page's widgets, the URL and the CLI
accept the same values), the file readers (profiles, model configs), and the CLI's flags. The
ceilings are far above any real run (the largest published runs use ~126 layers, TP 8-64,
~16k GPUs, 1M-token contexts) and low enough that the arithmetic stays finite and a page stays
quick: the work grows with stages x layers, and the largest product of sizes (~2^90 bytes) is
far below a float's range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..i18n import Text
from .errors import MemvizError

MAX_LAYERS = 1024
MAX_PIPELINE_STAGES = 256
MAX_TP = 64
MAX_GPUS = 2**20
MAX_SEQ_LENGTH = 2**24
MAX_MIB = 2.0**30  # one profiled size (a layer, the embedding): 1 PiB
# Longest value echoed back in a message; the rest is cut (a link may carry 50 KB).
MAX_SHOWN_CHARS = 40


@dataclass(frozen=True)
class Limit:
    """The allowed range of one value; `whole`: an integer."""

    low: float
    high: float
    whole: bool = True

    def reason(self, value: object) -> Text | None:
        """Why `value` is refused (a catalog text), or None when it is allowed."""
        if self.allows(value):
            return None
        kind = "error.range_whole" if self.whole else "error.range_number"
        return Text(kind, {"low": _number(self.low), "high": _number(self.high), "value": shown(value)})

    def allows(self, value: object) -> bool:
        """`value` is a number of the right kind, finite and within the range."""
        if isinstance(value, bool) or not isinstance(value, int | float) or self.whole and not isinstance(value, int):
            return False
        return not (isinstance(value, float) and not math.isfinite(value)) and self.low <= value <= self.high


# Keyed by parameter name (TrainingConfig, Architecture, AnalyticOptions); files and flags map to these.
LIMITS: dict[str, Limit] = {
    # the strategy
    "tp": Limit(1, MAX_TP),
    "pp": Limit(1, MAX_PIPELINE_STAGES),
    "dp": Limit(1, MAX_GPUS),
    "total_gpus": Limit(1, MAX_GPUS),
    "micro_batch_size": Limit(1, 2**16),
    "global_batch_size": Limit(1, 2**30),
    "chunks": Limit(1, 2**30),
    "seq_length": Limit(1, MAX_SEQ_LENGTH),
    "num_layers": Limit(1, MAX_LAYERS),
    "stage": Limit(0, MAX_PIPELINE_STAGES - 1),
    "ep": Limit(1, MAX_GPUS),
    "etp": Limit(1, MAX_TP),
    # the architecture
    "hidden_size": Limit(1, 2**20),
    "num_attention_heads": Limit(1, 2**14),
    "num_kv_heads": Limit(1, 2**14),
    "head_dim": Limit(1, 2**16),
    "ffn_hidden_size": Limit(1, 2**22),
    "vocab_size": Limit(1, 2**24),
    "max_position_embeddings": Limit(1, MAX_SEQ_LENGTH),
    "multiple_of": Limit(1, 2**16),
    # mixture of experts and multi-head latent attention
    "num_experts": Limit(0, 2**16),
    "moe_top_k": Limit(1, 2**16),
    "moe_ffn_hidden_size": Limit(1, 2**22),
    "num_shared_experts": Limit(0, 2**10),
    "shared_expert_ffn_hidden_size": Limit(1, 2**22),
    "moe_layer_freq": Limit(1, MAX_LAYERS),
    "moe_first_k_dense": Limit(0, MAX_LAYERS),
    "mtp_layers": Limit(0, 64),
    "q_lora_rank": Limit(1, 2**20),
    "kv_lora_rank": Limit(1, 2**20),
    "qk_nope_head_dim": Limit(1, 2**16),
    "qk_rope_head_dim": Limit(1, 2**16),
    "v_head_dim": Limit(1, 2**16),
    "moe_capacity_factor": Limit(0, 1024, whole=False),
    # the analytic options
    "virtual_stages": Limit(1, MAX_LAYERS),
    "context_parallel": Limit(1, MAX_GPUS),
    "vocab_pad_multiple": Limit(1, 2**16),
    "zero3_prefetch_layers": Limit(0, MAX_LAYERS),
    "cuda_context_mib": Limit(0, 2**20, whole=False),
    "nccl_buffer_mib_per_group": Limit(0, 2**20, whole=False),
    "allocator_fragmentation": Limit(0, 1, whole=False),
    "cross_entropy_fp32_copies": Limit(0, 4, whole=False),
    "cp_cross_entropy_fp32_copies": Limit(-1, 4, whole=False),  # -1: as cross_entropy_fp32_copies
    "optimizer_offload_fraction": Limit(0, 1, whole=False),
    "optimizer_sub_group_size": Limit(0, 2**40),
    "zero3_max_reuse_distance": Limit(0, 2**40),
    "zero_reduce_bucket_size": Limit(-1, 2**40),  # -1: DeepSpeed's "auto" as the HF Trainer fills it
    "zero3_prefetch_bucket_size": Limit(-1, 2**40),
    "zero3_max_live_parameters": Limit(0, 2**40),
    "zero3_param_persistence_threshold": Limit(-1, 2**40),
    "first_stage_layers": Limit(0, MAX_LAYERS),
    "last_stage_layers": Limit(0, MAX_LAYERS),
    "moe_load_factor": Limit(1, 1024, whole=False),
    # a profile's measured sizes
    "mib": Limit(0, MAX_MIB, whole=False),
}


def bounds(name: str) -> tuple[float, float]:
    """(low, high) for a parameter's `bounds`."""
    limit = LIMITS[name]
    return limit.low, limit.high


def checked(name: str, value: object, field: str = "", where: str = "") -> object:
    """`value` when the limit `name` allows it; else a MemvizError naming `where` (the file) and `field`."""
    reason = LIMITS[name].reason(value)
    if reason is not None:
        raise MemvizError(key="error.field_invalid", where=f"{where}: " if where else "", field=field or name,
                          reason=reason)
    return value


def shown(value: object) -> str:
    """A value as a message shows it (strings quoted), cut to a readable length."""
    if isinstance(value, int) and value.bit_length() > 4 * MAX_SHOWN_CHARS:  # str() refuses 4300+ digits
        return f"…(~{int(value.bit_length() * math.log10(2)) + 1} digits)"
    return cut(repr(value) if isinstance(value, str) else str(value))


def cut(text: str) -> str:
    """`text` if at most MAX_SHOWN_CHARS characters, else its start and how long it was."""
    return text if len(text) <= MAX_SHOWN_CHARS else f"{text[:MAX_SHOWN_CHARS - 8]}…({len(text)} characters)"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
