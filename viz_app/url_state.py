"""Shareable links: the mode, model, strategy, analytic assumptions and view as query parameters.

The query keys are a public interface (links are pasted into docs and chats): add keys, never
rename them. Pure param: the app connects this to the browser's location.
"""

from __future__ import annotations

import copy
import urllib.parse

import param

from .i18n import Text
from .model.analytic.frameworks import apply_options
from .model.limits import LIMITS, Limit, checked, cut, shown
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
    "zero3_max_reuse_distance", "zero_reduce_bucket_size", "zero_contiguous_gradients", "zero_overlap_comm",
    "zero3_prefetch_bucket_size", "zero3_max_live_parameters", "zero3_param_persistence_threshold",
    "cp_cross_entropy_fp32_copies", "compiled_loss",
)}
MAX_QUERY_FIELDS = 200  # a link carries ~40 keys; the rest of a longer one is not read
VIEW_KEYS = {"lang": "lang", "unit": "unit", "gpu": "gpu", "gib": "custom_gib", "tab": "tab"}
EXPLORE_KEYS = {"explore": "shown", "explore_gpus": "gpus", "explore_gbs": "global_batch_size",
                "explore_seq": "seq_length"}
PIN_KEYS = {"pins": "link"}  # the pinned configurations (viz_app/pins.py), compared side by side

# Which object each group of keys sets, in `link_targets` order.
LINK_KEYS = (("session", SESSION_KEYS), ("config", CONFIG_KEYS), ("options", OPTION_KEYS), ("view", VIEW_KEYS))

def parse_query(search: str) -> dict[str, str]:
    """A location's `?a=1&b=x` as raw strings (Panel's own parsing turns "-1" into -1.0 and evaluates
    bracketed values); the parameters' types decide later."""
    return dict(urllib.parse.parse_qsl(search.removeprefix("?"))[:MAX_QUERY_FIELDS])


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


def _reason(parameter: param.Parameter, raw: object) -> Text:
    """Why a link's value cannot apply, in the words the CLI uses for the same value."""
    if isinstance(parameter, param.Number):  # Integer too; the limit of model/limits.py, else the bounds
        limit = LIMITS.get(parameter.name) or Limit(*parameter.bounds, whole=isinstance(parameter, param.Integer))
        try:
            value = parse_value(parameter, raw)
        except ValueError:
            value = raw
        return limit.reason(value) or limit.reason(None)
    objects = (True, False) if isinstance(parameter, param.Boolean) else parameter.objects
    return Text("error.not_a_value", {"known": ", ".join(serialize(v) for v in objects), "value": shown(raw)})


def refusal(key: str, raw: object, reason: Text) -> Text:
    """One refused link value: `key=value (why)`, the value cut to a readable length."""
    return Text("msg.url_value", {"name": cut(key), "value": cut(str(raw)), "reason": reason})


def _probe(obj: param.Parameterized, names: list[str]) -> param.Parameterized:
    """A throwaway object with copies of `obj`'s parameters `names` (per-instance ones included, e.g. a
    selector's objects): setting a value on it checks the value as `obj` would, and changes nothing."""
    return param.parameterized_class("Probe", {name: copy.copy(obj.param[name]) for name in names})()


def _parsed(obj: param.Parameterized, keys: dict[str, str], query: dict, refused: list[Text]) -> dict:
    present = {key: name for key, name in keys.items() if key in query}
    if not present:
        return {}
    probe, values = _probe(obj, list(present.values())), {}
    for key, name in present.items():
        try:
            value = parse_value(obj.param[name], query[key])
            if name in LIMITS:
                checked(name, value)  # finite and in range (param's bounds let NaN through)
            with param.edit_constant(probe):
                setattr(probe, name, value)  # bounds and types, before anything is applied to `obj`
        except (TypeError, ValueError):
            refused.append(refusal(key, query[key], _reason(obj.param[name], query[key])))
            continue
        values[name] = value
    return values


def restore(session: Session, view: param.Parameterized, query: dict, pins: param.Parameterized | None = None
            ) -> list[Text]:
    """Apply a link's state in dependency order (model, then strategy, then pins); return what was refused and why."""
    refused: list[Text] = []
    chosen = _parsed(session, SESSION_KEYS, query, refused)
    chosen = {k: v for k, v in chosen.items() if v != UPLOADED}  # uploads are not in links
    for name in ("preset", "model", "mode"):  # a preset or model selects its mode; an explicit mode wins
        if name in chosen:
            setattr(session, name, chosen[name])
    apply_options(session.options, _parsed(session.options, OPTION_KEYS, query, refused))
    view.param.update(**_parsed(view, VIEW_KEYS, query, refused))
    explore = _parsed(view.explore, EXPLORE_KEYS, query, refused)
    if "explore" not in query and set(query) & set(EXPLORE_KEYS):
        explore["shown"] = True  # links from before the `explore` key: the explorer was always open then
    view.explore.param.update(**explore)
    config = _parsed(session.config, CONFIG_KEYS, query, refused)
    pp = config.get("pp", session.config.pp)
    if config.get("stage", 0) > pp - 1:  # a stage the strategy does not have
        refused.append(refusal("stage", query["stage"], Text("error.stage_range", {
            "last": pp - 1, "pp": pp, "value": config.pop("stage")})))
    session.config.apply(**config)
    if pins is not None:
        pins.param.update(**_parsed(pins, PIN_KEYS, query, refused))
        refused += [refusal("pins", item, Text("msg.pin_not_restored")) for item in pins.ignored]
    return refused


def accepted_search(query: dict[str, str], refused: list[Text]) -> str:
    """The link without its refused and unknown keys, as `?a=1&b=2`: what the page now shows, and a
    query Panel can parse again (it turns a 5000-digit value into an int, which Python refuses)."""
    known = {key for _, keys in LINK_KEYS for key in keys} | set(EXPLORE_KEYS) | set(PIN_KEYS)
    dropped = {text.values["name"] for text in refused}
    kept = {key: value for key, value in query.items() if key in known and key not in dropped}
    return "?" + urllib.parse.urlencode(kept) if kept else ""


def serialize(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def link_targets(session: Session, view: param.Parameterized, pins: param.Parameterized | None = None
                 ) -> list[tuple[param.Parameterized, dict[str, str]]]:
    """Every (object, {query key: parameter}) pair a link carries."""
    targets = [(obj, keys) for (_, keys), obj in zip(LINK_KEYS, (session, session.config, session.options, view),
                                                     strict=True)]
    targets.append((view.explore, EXPLORE_KEYS))
    return targets + ([(pins, PIN_KEYS)] if pins is not None else [])
