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
from .theme import text
from .widgets import from_param, label, switch

ARCHITECTURE_FIELDS = (
    "hidden_size", "num_attention_heads", "num_kv_heads", "head_dim", "ffn_hidden_size", "vocab_size",
    "max_position_embeddings", "hidden_act", "norm_type", "position_embedding", "attention_dropout",
    "hidden_dropout", "gated_mlp", "tie_embeddings", "linear_bias", "qkv_bias", "parallel_residual",
)
OPTION_FIELDS = (
    "framework", "optimizer", "optimizer_state_dtype", "grad_dtype", "recompute", "kernels", "schedule",
    "virtual_stages", "context_parallel", "cross_entropy_fp32_copies", "vocab_pad_multiple", "zero3_prefetch_layers",
    "flash_attention", "fp32_sharded_params", "fsdp_unsharded_under_pp", "zero_shards_over_cp",
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
    """Number and choice fields two per row, switches one per row below them."""
    params = [obj.param[n] for n in names if n in obj.param]
    fields = [param_widget(prefix, p, lang_param) for p in params if not isinstance(p, param.Boolean)]
    switches = [param_widget(prefix, p, lang_param) for p in params if isinstance(p, param.Boolean)]
    return pn.Column(pn.GridBox(*fields, ncols=2, sizing_mode="stretch_width"), *switches,
                     sizing_mode="stretch_width")


def architecture_editor(arch: Architecture, lang_param: param.Parameter) -> pn.Column:
    return _grid("arch", arch, ARCHITECTURE_FIELDS, lang_param)


def options_editor(options: AnalyticOptions, lang_param: param.Parameter) -> pn.Column:
    overheads = _grid("opt", options, OVERHEAD_FIELDS, lang_param)
    return pn.Column(
        _grid("opt", options, OPTION_FIELDS, lang_param),
        text(label("opt.overheads", lang_param), "memviz-label", margin=(10, 10, 0, 10)),
        overheads, sizing_mode="stretch_width",
    )
