"""Temporaries of the optimizer step: memory alive only while `optimizer.step()` runs.

- `optimizer_implementation="foreach"` (torch.optim.Adam/AdamW with foreach=True): after updating
  the moments in place, the step computes sqrt(exp_avg_sq) for the whole parameter list into new
  tensors (`exp_avg_sq_sqrt = torch._foreach_sqrt(device_exp_avg_sqs)`) before
  `_foreach_addcdiv_`: one moment-sized tensor per parameter. Fused kernels (Apex/Transformer
  Engine FusedAdam, torch fused=True) update in place: none.
- `optimizer_sub_group_size` > 0 (DeepSpeed): before Adam runs, the gradients are flattened and
  cast to fp32: per sub-group under ZeRO-3 (`_prepare_fp32_grad_for_sub_group`), min(sub-group,
  the rank's parameters) x 4 B; per parameter group under ZeRO-1/2 (`step`), the rank's whole
  partition x 4 B. ZeRO-3 also hands the optimizer one sub-group's fp32 partition at a time
  (`_optimizer_step`), so foreach's sqrt(exp_avg_sq) is one sub-group's too.
Both are sharded as the optimizer states are.
"""

from __future__ import annotations

from ...i18n import Joined, Text
from ..config import TrainingConfig
from ..sharding import zero_shard_degree, zero_sharded
from ..terms import Term
from .frameworks import DEEPSPEED_COMMIT
from .options import AnalyticOptions
from .states import moment_bytes

TORCH_VERSION = "PyTorch 2.13.0"
SRC_FOREACH = Text("source.foreach", {"torch": TORCH_VERSION})
SRC_SUB_GROUP = Text("source.sub_group", {"commit": DEEPSPEED_COMMIT})
SRC_SUB_GROUP_STEP = Text("source.sub_group_step", {"commit": DEEPSPEED_COMMIT})
SRC_PARTITION = Text("source.partition", {"commit": DEEPSPEED_COMMIT})
FOREACH_OPTIMIZERS = ("adam", "adamw")
FP32_BYTES = 4


def optimizer_step_term(config: TrainingConfig, options: AnalyticOptions, stage_params: float) -> tuple[Term, Joined]:
    """Bytes of the step's temporaries on one GPU holding `stage_params` parameters (before sharding),
    and their sources; value 0 when none."""
    shards = zero_shard_degree(config.dp, options.context_parallel, options.zero_shards_over_cp)
    params = zero_sharded(Term(stage_params, Text("formula.params", {"params": round(stage_params)})), "optimizer",
                          config.zero_stage,
                          Term(shards, Text("formula.zero_shards", {"zero": config.zero_stage, "shards": shards})))
    total, sources = Term(0.0, ""), []
    sub_groups = bool(options.optimizer_sub_group_size) and config.zero_stage == 3
    group = (Term(min(options.optimizer_sub_group_size, params.value),
                  f"min(sub_group_size {options.optimizer_sub_group_size:,}, {params.value:,.0f})")
             if sub_groups else params.phrased("formula.the_partition"))
    if options.optimizer_implementation == "foreach" and options.optimizer in FOREACH_OPTIMIZERS:
        one_moment = moment_bytes(options) / 2
        stepped = group if sub_groups else params  # what one foreach step() sees
        total = stepped.times(Term(one_moment, Text("formula.foreach_sqrt", {"bytes": one_moment})))
        sources += [SRC_FOREACH] + ([SRC_SUB_GROUP_STEP] if sub_groups else [])
    if options.optimizer_sub_group_size and config.zero_stage:
        sources.append(SRC_SUB_GROUP if sub_groups else SRC_PARTITION)
        copy = group.times(Term(FP32_BYTES, Text("formula.fp32_gradient_copy", {"bytes": FP32_BYTES})))
        total = copy if not total.value else total.plus(copy)
    return total, Joined(*(piece for i, source in enumerate(sources) for piece in ("; " if i else "", source)))
