"""Editors generated from Parameterized classes: the architecture and the analytic options.

One widget per parameter, chosen by the parameter's type, labelled from the catalog
(`arch.<name>`, `opt.<name>`; a selector's values from `<prefix>.<name>.<value>` when the
catalog has them, else the value itself, e.g. "silu").
"""

from __future__ import annotations

import panel as pn
import param

from ..i18n import has, t
from ..model.analytic import AnalyticOptions
from ..model.analytic.architecture import Architecture
from ..model.analytic.moe_activations import RECOMPUTE_MODULES
from .theme import text
from .widgets import from_param, label, switch

ARCHITECTURE_FIELDS = (
    "hidden_size", "num_attention_heads", "num_kv_heads", "head_dim", "ffn_hidden_size", "vocab_size",
    "max_position_embeddings", "hidden_act", "norm_type", "position_embedding", "attention_dropout",
    "hidden_dropout", "gated_mlp", "tie_embeddings", "linear_bias", "qkv_bias", "parallel_residual", "qk_norm",
    "qk_norm_full_width",
    # mixture of experts (the importer's dense_layers list is kept, not edited here)
    "num_experts", "moe_top_k", "moe_ffn_hidden_size", "num_shared_experts", "shared_expert_ffn_hidden_size",
    "moe_first_k_dense", "moe_layer_freq", "moe_layer_offset", "router_dtype", "moe_capacity_factor",
    "shared_expert_gate", "moe_pad_to_capacity",
    # multi-head latent attention and multi-token prediction
    "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "mtp_layers",
)
OPTION_FIELDS = (
    "framework", "optimizer", "optimizer_state_dtype", "master_weights", "optimizer_offload_fraction", "grad_dtype",
    "gradient_allocation", "recompute", "kernels", "schedule", "virtual_stages", "context_parallel",
    "cross_entropy_fp32_copies", "cp_cross_entropy_fp32_copies", "vocab_pad_multiple", "zero3_prefetch_layers",
    "moe_load_factor", "flash_attention", "compiled_loss",
    "fp32_sharded_params", "fsdp_unsharded_under_pp", "zero_shards_over_cp",
    "optimizer_implementation", "optimizer_sub_group_size", "fsdp_reduce_scatter_buffers",
    "first_stage_layers", "last_stage_layers", "embedding_in_pipeline_split", "loss_in_pipeline_split",
    "zero3_max_reuse_distance", "zero_reduce_bucket_size", "zero3_prefetch_bucket_size", "zero3_max_live_parameters",
    "zero3_param_persistence_threshold", "zero_contiguous_gradients", "zero_overlap_comm",
)
OVERHEAD_FIELDS = ("cuda_context_mib", "allocator_fragmentation", "nccl_buffer_mib_per_group")


def value_label(prefix: str, name: str, value: object, lang: str) -> str:
    key = f"{prefix}.{name}.{value}"
    return t(key, lang) if has(key) else str(value)


def _selector_options(prefix: str, name: str, values: list, lang: str) -> dict[str, object]:
    return {value_label(prefix, name, v, lang): v for v in values}


def param_widget(prefix: str, parameter: param.Parameter, lang_param: param.Parameter):
    """The widget for one parameter: a switch, a select or a number box, with a translated label."""
    if isinstance(parameter, param.Boolean):
        return switch(parameter, lang_param, key=f"{prefix}.{parameter.name}")
    name = label(f"{prefix}.{parameter.name}", lang_param)
    css = [f"memviz-{prefix}-{parameter.name.replace('_', '-')}"]
    if isinstance(parameter, param.Selector):
        options = pn.bind(_selector_options, prefix, parameter.name, list(parameter.objects), lang_param)
        return from_param(pn.widgets.Select, parameter, name=name, options=options, css_classes=css,
                          sizing_mode="stretch_width")
    widget_type = pn.widgets.IntInput if isinstance(parameter, param.Integer) else pn.widgets.FloatInput
    # The parameter's bounds are model/limits.py's: the page takes every value the CLI takes (from_param
    # would stop a number box at the softbounds).
    start, end = parameter.bounds
    return from_param(widget_type, parameter, name=name, css_classes=css, sizing_mode="stretch_width", start=start,
                      end=end)


def _grid(prefix: str, obj: param.Parameterized, names: tuple[str, ...], lang_param: param.Parameter) -> pn.Column:
    """Number fields two per row, then choices and switches one per row: a choice's text ("FP32 main
    gradients", "融合算子（Megatron / TE）") needs the whole width to be read."""
    params = [obj.param[n] for n in names if n in obj.param]
    numbers = [param_widget(prefix, p, lang_param) for p in params if not isinstance(p, param.Boolean | param.Selector)]
    choices = [param_widget(prefix, p, lang_param) for p in params if isinstance(p, param.Selector)]
    switches = [param_widget(prefix, p, lang_param) for p in params if isinstance(p, param.Boolean)]
    return pn.Column(pn.GridBox(*numbers, ncols=2, sizing_mode="stretch_width"), *choices, *switches,
                     sizing_mode="stretch_width")


def architecture_editor(arch: Architecture, lang_param: param.Parameter) -> pn.Column:
    return _grid("arch", arch, ARCHITECTURE_FIELDS, lang_param)


def options_editor(options: AnalyticOptions, lang_param: param.Parameter) -> pn.Column:
    overheads = _grid("opt", options, OVERHEAD_FIELDS, lang_param)
    modules = from_param(pn.widgets.MultiChoice, options.param.recompute_modules,
                         name=label("opt.recompute_modules", lang_param), options=list(RECOMPUTE_MODULES),
                         css_classes=["memviz-opt-recompute-modules"], sizing_mode="stretch_width")
    return pn.Column(
        _grid("opt", options, OPTION_FIELDS, lang_param), modules,
        text(label("opt.overheads", lang_param), "memviz-label", margin=(10, 10, 0, 10)),
        overheads, sizing_mode="stretch_width",
    )
