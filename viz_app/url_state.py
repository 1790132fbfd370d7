"""Shareable links: the mode, model, strategy, analytic assumptions and view as query parameters.

The query keys are a public interface (links are pasted into docs and chats): add keys, never
rename them. Pure param: the app connects this to the browser's location.
"""

from __future__ import annotations

import copy

import param

from .model.analytic.frameworks import apply_options
from .session import UPLOADED, Session

SESSION_KEYS = {"mode": "mode", "preset": "preset", "model": "model"}
CONFIG_KEYS = {
    "tp": "tp", "pp": "pp", "dp": "dp", "gpus": "total_gpus", "mbs": "micro_batch_size",
    "gbs": "global_batch_size", "chunks": "chunks", "zero": "zero_stage", "ckpt": "checkpoint",
    "sp": "sequence_parallel", "mixed": "mixed_precision", "seq": "seq_length", "layers": "num_layers",
    "stage": "stage", "ep": "ep", "etp": "etp",
}
OPTION_KEYS = {name: name for name in (
    "optimizer", "grad_dtype", "recompute", "flash_attention", "kernels", "schedule", "virtual_stages",
    "context_parallel", "fp32_sharded_params", "zero_shards_over_cp", "vocab_pad_multiple",
    "cross_entropy_fp32_copies", "zero3_prefetch_layers", "cuda_context_mib", "allocator_fragmentation",
    "nccl_buffer_mib_per_group", "framework", "optimizer_state_dtype", "fsdp_unsharded_under_pp", "master_weights",
    "optimizer_offload_fraction", "moe_load_factor",
    "gradient_allocation", "optimizer_implementation", "optimizer_sub_group_size", "fsdp_reduce_scatter_buffers",
    "first_stage_layers", "last_stage_layers", "embedding_in_pipeline_split", "loss_in_pipeline_split",
    "zero3_max_reuse_distance",
)}
VIEW_KEYS = {"lang": "lang", "unit": "unit", "gpu": "gpu", "gib": "custom_gib", "tab": "tab"}
PIN_KEYS = {"pins": "link"}  # the pinned configurations (viz_app/pins.py), compared side by side


def parse_value(parameter: param.Parameter, raw: object) -> object:
    """A query-string value as the parameter's type; ValueError when it cannot be one."""
    text = str(raw).strip().lower() if isinstance(raw, str) else raw
    if isinstance(parameter, param.Boolean):
        if text in (True, 1, "1", "true", "on", "yes"):
            return True
        if text in (False, 0, "0", "false", "off", "no"):
            return False
        raise ValueError(raw)
    if isinstance(parameter, param.Integer):
        return int(str(raw))
    if isinstance(parameter, param.Number):
        return float(str(raw))
    if isinstance(parameter, param.Selector):
        match = [v for v in parameter.objects if str(v) == str(raw)]
        if not match:
            raise ValueError(raw)
        return match[0]
    return raw


def _probe(obj: param.Parameterized, names: list[str]) -> param.Parameterized:
    """A throwaway object with copies of `obj`'s parameters `names` (per-instance ones included, e.g. a
    selector's objects): setting a value on it checks the value as `obj` would, and changes nothing."""
    return param.parameterized_class("Probe", {name: copy.copy(obj.param[name]) for name in names})()


def _parsed(obj: param.Parameterized, keys: dict[str, str], query: dict, ignored: list[str]) -> dict:
    present = {key: name for key, name in keys.items() if key in query}
    if not present:
        return {}
    probe, values = _probe(obj, list(present.values())), {}
    for key, name in present.items():
        try:
            value = parse_value(obj.param[name], query[key])
            with param.edit_constant(probe):
                setattr(probe, name, value)  # bounds and types, before anything is applied to `obj`
        except (TypeError, ValueError):
            ignored.append(f"{key}={query[key]}")
            continue
        values[name] = value
    return values


def restore(session: Session, view: param.Parameterized, query: dict, pins: param.Parameterized | None = None
            ) -> list[str]:
    """Apply a link's state in dependency order (model, then strategy, then pins); return the keys ignored."""
    ignored: list[str] = []
    chosen = _parsed(session, SESSION_KEYS, query, ignored)
    chosen = {k: v for k, v in chosen.items() if v != UPLOADED}  # uploads are not in links
    for name in ("preset", "model", "mode"):  # a preset or model selects its mode; an explicit mode wins
        if name in chosen:
            setattr(session, name, chosen[name])
    apply_options(session.options, _parsed(session.options, OPTION_KEYS, query, ignored))
    view.param.update(**_parsed(view, VIEW_KEYS, query, ignored))
    session.config.apply(**_parsed(session.config, CONFIG_KEYS, query, ignored))
    if pins is not None:
        pins.param.update(**_parsed(pins, PIN_KEYS, query, ignored))
        ignored += pins.ignored
    return ignored


def serialize(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def link_targets(session: Session, view: param.Parameterized, pins: param.Parameterized | None = None
                 ) -> list[tuple[param.Parameterized, dict[str, str]]]:
    """Every (object, {query key: parameter}) pair a link carries."""
    return [(session, SESSION_KEYS), (session.config, CONFIG_KEYS), (session.options, OPTION_KEYS),
            (view, VIEW_KEYS)] + ([(pins, PIN_KEYS)] if pins is not None else [])
