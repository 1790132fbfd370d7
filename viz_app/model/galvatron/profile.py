"""Galvatron memory-profiling files: parse, validate, and fill missing TP degrees.

Three shapes are read (spec section 2): v1 (processed keys at top level, the presets), v2 (the
same keys nested under `memory_profiling`) and main-branch files (processed keys plus raw
measurement keys such as "1_2_4_sp", which are ignored). Every problem becomes a ProfileError
whose message names the file, the key and what was expected.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ...i18n import Text
from ..errors import ProfileError, StrategyError
from ..json_input import decode_json, json_kind, read_json_bytes
from ..limits import MAX_TP, checked

OTHER_PLACEMENTS = ("pp_off", "pp_on_first", "pp_on_last")
_LAYERTYPE_KEY = re.compile(r"^layertype_([0-9]{1,9})(_sp)?$")
_WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")  # ASCII digits only: str.isdigit() also accepts "²"


@dataclass(frozen=True)
class ModelFacts:
    """The architecture a profile was measured on (shown to the user; layers enter formulas)."""

    hidden_size: int | None = None
    ffn_size: int | None = None
    num_heads: int | None = None
    num_kv_heads: int | None = None
    num_layers: int | None = None
    vocab_size: int | None = None
    max_positions: int | None = None


@dataclass(frozen=True)
class ByTp:
    """Values measured at several TP degrees, with Galvatron's halving rule for the rest."""

    mib_by_tp: dict[int, float]

    def degrees(self) -> tuple[int, ...]:
        return tuple(sorted(self.mib_by_tp))

    def at(self, tp: int, *, halving: bool) -> tuple[float, bool]:
        """Value at `tp` and whether it was extrapolated (value[2t] = value[t] / 2)."""
        if tp in self.mib_by_tp:
            return self.mib_by_tp[tp], False
        if halving:
            base = tp
            while base % 2 == 0:
                base //= 2
                if base in self.mib_by_tp:
                    return self.mib_by_tp[base] * base / tp, True
        raise KeyError(tp)


@dataclass(frozen=True)
class OtherMemory:
    """Embedding, LM head, final norm and loss of one placement (no pipeline, first, last stage)."""

    model_states: ByTp
    activation: ByTp


@dataclass(frozen=True)
class ProfileVariant:
    """The measurements for sequence parallel on, or off, at one profiled sequence length."""

    sequence_parallel: bool
    seq_length: int
    parameter_mib: float  # fp32 size of one full layer at tp = 1
    layer_activation: ByTp  # one layer, one sample
    checkpoint_mib: float  # the layer input kept under full recompute
    other: dict[str, OtherMemory]

    def tp_degrees(self) -> tuple[int, ...]:
        """Degrees measured for every quantity the cost model reads."""
        sets = [set(self.layer_activation.degrees())]
        for other in self.other.values():
            sets += [set(other.model_states.degrees()), set(other.activation.degrees())]
        return tuple(sorted(set.intersection(*sets)))


@dataclass(frozen=True)
class GalvatronProfile:
    """A parsed, validated Galvatron memory profile."""

    name: str
    shape: str  # "v1", "v2" or "main"
    variants: dict[bool, ProfileVariant]  # keyed by sequence_parallel
    model: ModelFacts = field(default_factory=ModelFacts)
    default_seq_length: int = 0
    layer_types: int = 1

    def variant(self, sequence_parallel: bool) -> ProfileVariant:
        if sequence_parallel in self.variants:
            return self.variants[sequence_parallel]
        if sequence_parallel:
            raise StrategyError(key="error.profile_no_sp", name=self.name)
        raise StrategyError(key="error.profile_sp_only", name=self.name)

    def config_defaults(self) -> dict:
        """What loading this profile sets in a TrainingConfig (as Galvatron's loader does)."""
        values = {"seq_length": self.default_seq_length}
        if self.model.num_layers:
            values["num_layers"] = self.model.num_layers
        if True not in self.variants:
            values["sequence_parallel"] = False
        return values

    def tp_choices(self, sequence_parallel: bool, max_tp: int = MAX_TP) -> tuple[tuple[int, bool], ...]:
        """(degree, extrapolated) pairs the cost model accepts, up to `max_tp`."""
        if sequence_parallel not in self.variants:
            return ()
        measured = self.variants[sequence_parallel].tp_degrees()
        choices = {t: False for t in measured}
        if sequence_parallel:
            for t in measured:
                while t * 2 <= max_tp:
                    t *= 2
                    choices.setdefault(t, True)
        return tuple(sorted(choices.items()))


def load_profile(path: str | Path) -> GalvatronProfile:
    """Read and parse a profile file, reading no more than the upload limit (and one byte)."""
    path = Path(path)
    return parse_profile(read_json_bytes(path), path.name)


def is_profile(data: object) -> bool:
    """Whether decoded JSON looks like a Galvatron memory profile (any of its three shapes)."""
    if not isinstance(data, dict):
        return False
    root = data.get("memory_profiling") if isinstance(data.get("memory_profiling"), dict) else data
    return any(_LAYERTYPE_KEY.match(key) or key.startswith("other_memory_") for key in root)


def parse_profile(data: bytes | str | dict, name: str) -> GalvatronProfile:
    """Parse a profile from raw bytes, text, or already-decoded JSON."""
    if isinstance(data, bytes | str):
        data = decode_json(data, name)
    if not isinstance(data, dict):
        raise ProfileError(key="error.not_an_object", name=name, found=json_kind(data))
    return _Reader(name).profile(data)


class _Reader:
    """Walks a decoded profile, naming the exact key path in every error."""

    def __init__(self, name: str):
        self.name = name

    def fail(self, path: str, expected: str, found: object = None, **values) -> ProfileError:
        """`expected`: an `expect.*` catalog key (with `values`); `found`: the value there, if any."""
        if found is None:
            return ProfileError(key="error.key_expected", name=self.name, path=path, expected=Text(expected, values))
        return ProfileError(key="error.key_expected_found", name=self.name, path=path,
                            expected=Text(expected, values), found=json_kind(found))

    def profile(self, data: dict) -> GalvatronProfile:
        shape = "v1"
        root = data
        if isinstance(data.get("memory_profiling"), dict):
            shape, root = "v2", data["memory_profiling"]
        elif "memory_profiling" in data:
            raise self.fail("memory_profiling", "expect.profiled_keys", data["memory_profiling"])
        elif any(re.match(r"^\d+_\d+_\d+", k) for k in data):
            shape = "main"
        layertypes = sorted(
            (int(m.group(1)), bool(m.group(2)), key) for key in root if (m := _LAYERTYPE_KEY.match(key))
        )
        if not layertypes:
            raise ProfileError(key="error.not_a_profile", name=self.name)
        first_type = layertypes[0][0]
        variants = {}
        for _index, sp, key in (t for t in layertypes if t[0] == first_type):
            variants[sp] = self.variant(root, key, sp)
        first_key = layertypes[0][2]
        model = self.model_facts(data.get("model_config"))
        return GalvatronProfile(
            name=self.name,
            shape=shape,
            variants=variants,
            model=model,
            default_seq_length=min(self.seq_keys(root[first_key], first_key)),
            layer_types=len({t[0] for t in layertypes}),
        )

    def seq_keys(self, node: object, path: str) -> list[int]:
        if not isinstance(node, dict) or not node:
            raise self.fail(path, "expect.by_sequence", node, example='{"2048": {...}}')
        seqs = []
        for key in node:
            if not _WHOLE_NUMBER.fullmatch(key) or int(key) <= 0:
                raise self.fail(f"{path}.{key}", "expect.sequence_key")
            seqs.append(checked("seq_length", int(key), field=f"{path}.{key}", where=self.name))
        return seqs

    def variant(self, root: dict, layer_key: str, sp: bool) -> ProfileVariant:
        suffix = "_sp" if sp else ""
        layer_node = root[layer_key]
        seq = max(self.seq_keys(layer_node, layer_key))
        layer_path = f"{layer_key}.{seq}"
        layer = self.obj(layer_node[str(seq)], layer_path)
        parameter_mib = self.number(layer, "parameter_size", layer_path)
        act_path = f"{layer_path}.tp_activation_per_bsz_dict"
        act = self.obj(layer.get("tp_activation_per_bsz_dict"), act_path)
        checkpoint_mib = self.number(act, "checkpoint", act_path)
        layer_activation = self.by_tp({k: v for k, v in act.items() if k != "checkpoint"}, act_path)
        other = {}
        for placement in OTHER_PLACEMENTS:
            key = f"other_memory_{placement}{suffix}"
            if key not in root:
                raise ProfileError(key="error.missing_other", name=self.name, path=key, layer_key=layer_key)
            node = root[key]
            seqs = self.seq_keys(node, key)
            # Galvatron reads "other" memory at the layer's profiled length; fall back to its largest.
            other_seq = seq if seq in seqs else max(seqs)
            path = f"{key}.{other_seq}"
            entry = self.obj(node[str(other_seq)], path)
            other[placement] = OtherMemory(
                model_states=self.by_tp(self.obj(entry.get("model_states"), f"{path}.model_states"),
                                        f"{path}.model_states"),
                activation=self.by_tp(self.obj(entry.get("activation"), f"{path}.activation"), f"{path}.activation"),
            )
        return ProfileVariant(sp, seq, parameter_mib, layer_activation, checkpoint_mib, other)

    def obj(self, node: object, path: str) -> dict:
        if not isinstance(node, dict):
            raise self.fail(path, "expect.object", node) if node is not None else ProfileError(
                key="error.missing_key", name=self.name, path=path)
        return node

    def number(self, node: dict, key: str, path: str) -> float:
        if key not in node:
            raise ProfileError(key="error.missing_size", name=self.name, path=f"{path}.{key}")
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{path}.{key}", "expect.mib", value)
        if not math.isfinite(value) or value < 0:
            raise self.fail(f"{path}.{key}", "expect.mib_finite", value=value)
        return float(checked("mib", float(value), field=f"{path}.{key}", where=self.name))

    def by_tp(self, node: dict, path: str) -> ByTp:
        values = {}
        for key in node:
            if not _WHOLE_NUMBER.fullmatch(key) or int(key) < 1:
                raise self.fail(f"{path}.{key}", "expect.tp_key")
            values[checked("tp", int(key), field=f"{path}.{key}", where=self.name)] = self.number(node, key, path)
        if not values:
            raise self.fail(path, "expect.tp_degrees")
        return ByTp(values)

    def model_facts(self, node: object) -> ModelFacts:
        if node is None:
            return ModelFacts()
        if not isinstance(node, dict):
            raise self.fail("model_config", "expect.object", node)

        def pick(limit: str, *keys: str) -> int | None:
            for key in keys:
                value = node.get(key)
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise self.fail(f"model_config.{key}", "expect.positive_int", value)
                return checked(limit, value, field=f"model_config.{key}", where=self.name)
            return None

        heads = pick("num_attention_heads", "n_heads", "num_attention_heads", "n_head")
        return ModelFacts(
            hidden_size=pick("hidden_size", "dim", "hidden_size", "n_embd"),
            ffn_size=pick("ffn_hidden_size", "ffn_dim", "intermediate_size"),
            num_heads=heads,
            num_kv_heads=pick("num_kv_heads", "n_kv_heads", "num_key_value_heads") or heads,
            num_layers=pick("num_layers", "n_layers", "num_hidden_layers", "n_layer"),
            vocab_size=pick("vocab_size", "vocab_size"),
            max_positions=pick("max_position_embeddings", "n_positions", "max_position_embeddings"),
        )
