"""Galvatron strategy files: the `galvatron_config_*.json` its search engine writes.

One parallel strategy per layer, as comma-separated lists (galvatron/utils/strategy_utils.py,
strategy_list2config; read back by galvatron/utils/config_utils.py, config2strategy): tp degree
(`tp_sizes_enc`), ZeRO-3 or the default data-parallel type (`dp_types_enc`: 1 = zero3, 0 =
`default_dp_type`, as galvatron/core/runtime/parallel.py maps them), Ulysses sequence parallel
(`use_sp`: the degree in `tp_sizes_enc` splits the sequence instead of the weights), full
activation checkpointing (`checkpoint`); then the pipeline: `pp_deg`, `pp_division` (layers
per stage), `pipeline_type`, `chunks`, `global_bsz`; and the embedding/head: vocab degree
`vtp`, its Ulysses flag `vsp`, its ZeRO-3 flag `embed_sdp`. Every problem is a
StrategyFileError naming the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import StrategyFileError
from ..json_input import decode_json, json_kind, read_json_bytes

LAYER_KEYS = ("tp_sizes_enc", "dp_types_enc")  # required per-layer lists
OPTIONAL_LAYER_KEYS = ("use_sp", "checkpoint", "tp_consecutive_flags")  # Galvatron fills these with 0s/1s
PIPELINE_TYPES = ("pipedream_flush", "gpipe")
DP_TYPES = {"ddp": 0, "zero2": 2, "zero3": 3}  # Galvatron's data-parallel types as ZeRO stages
FLAG_KEYS = ("dp_types_enc", "checkpoint", "use_sp", "tp_consecutive_flags")


@dataclass(frozen=True)
class LayerChoice:
    """One layer's strategy as the file gives it."""

    tp_sp: int  # the degree the layer is split by (tensor or, with Ulysses, sequence)
    ulysses: bool
    zero3: bool  # dp_types_enc = 1
    checkpoint: bool


@dataclass(frozen=True)
class StrategyFile:
    """A parsed, validated Galvatron strategy file."""

    name: str
    pp: int
    layers: tuple[LayerChoice, ...]
    pp_division: tuple[int, ...]
    global_batch_size: int
    chunks: int
    pipeline_type: str
    default_zero_stage: int  # default_dp_type as a ZeRO stage
    vocab_tp: int
    vocab_ulysses: bool
    embed_zero3: bool
    world_size: int | None  # absent in files from older search engines
    raw: dict  # the file's keys as read, to write it back (the app's JSON download)

    def document(self) -> dict:
        """The file in an estimate's JSON document: its name and its keys as read."""
        return {"name": self.name, "content": self.raw}


def is_strategy_file(data: object) -> bool:
    """Whether decoded JSON looks like a Galvatron strategy file."""
    return isinstance(data, dict) and "tp_sizes_enc" in data and "pp_deg" in data


def load_strategy_file(path: str | Path) -> StrategyFile:
    path = Path(path)
    return parse_strategy_file(read_json_bytes(path), path.name)


def parse_strategy_file(data: bytes | str | dict, name: str) -> StrategyFile:
    """Parse a strategy file from raw bytes, text or decoded JSON."""
    if isinstance(data, bytes | str):
        data = decode_json(data, name)
    if not isinstance(data, dict):
        raise StrategyFileError(key="error.not_an_object", name=name, found=json_kind(data))
    return _Reader(name, data).read()


class _Reader:
    def __init__(self, name: str, data: dict):
        self.name, self.data = name, data

    def fail(self, key: str, expected: str, value: object) -> StrategyFileError:
        return StrategyFileError(key="error.strategy_key", name=self.name, path=key, expected=expected,
                                 found=repr(value) if isinstance(value, int | str) else json_kind(value))

    def integer(self, key: str, default: int | None = None, minimum: int = 1) -> int:
        if key not in self.data:
            if default is not None:
                return default
            raise StrategyFileError(key="error.missing_key", name=self.name, path=key)
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"a whole number of at least {minimum}", value)
        return value

    def numbers(self, key: str) -> list[int]:
        """A comma-separated list of whole numbers ("1,1,2")."""
        if key not in self.data:
            raise StrategyFileError(key="error.missing_key", name=self.name, path=key)
        value = self.data[key]
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # one stage: "pp_division": 32
        if not isinstance(value, str):
            raise self.fail(key, "comma-separated whole numbers", value)
        parts = [p.strip() for p in value.split(",")]
        if not all(p.isdigit() for p in parts):
            raise self.fail(key, "comma-separated whole numbers", value)
        return [int(p) for p in parts]

    def read(self) -> StrategyFile:
        lists = {key: self.numbers(key) for key in LAYER_KEYS}
        lists |= {key: self.numbers(key) for key in OPTIONAL_LAYER_KEYS if key in self.data}
        count = len(lists["tp_sizes_enc"])
        for key, values in lists.items():
            if len(values) != count:
                raise StrategyFileError(key="error.strategy_lengths", name=self.name, path=key, found=len(values),
                                        layers=count)
            if key in FLAG_KEYS and any(v not in (0, 1) for v in values):
                raise self.fail(key, "flags 0 or 1", self.data[key])
        tp = lists["tp_sizes_enc"]
        bad = next((t for t in tp if t < 1 or t & (t - 1)), None)
        if bad is not None:
            raise self.fail("tp_sizes_enc", "powers of two (1, 2, 4, ...)", bad)
        use_sp, checkpoint = lists.get("use_sp", [0] * count), lists.get("checkpoint", [0] * count)
        layers = tuple(LayerChoice(t, bool(u), bool(d), bool(c))
                       for t, u, d, c in zip(tp, use_sp, lists["dp_types_enc"], checkpoint, strict=True))
        pp = self.integer("pp_deg")
        division = self.numbers("pp_division") if "pp_division" in self.data else self._even_division(pp, count)
        if len(division) != pp or sum(division) != count or min(division) < 1:
            raise StrategyFileError(key="error.strategy_division", name=self.name,
                                    division=",".join(map(str, division)), pp=pp, layers=count)
        return StrategyFile(
            name=self.name, pp=pp, layers=layers, pp_division=tuple(division),
            global_batch_size=self.integer("global_bsz"), chunks=self.integer("chunks", default=1),
            pipeline_type=self.choice("pipeline_type", PIPELINE_TYPES, "pipedream_flush"),
            default_zero_stage=DP_TYPES[self.choice("default_dp_type", tuple(DP_TYPES), "ddp")],
            vocab_tp=self.integer("vtp", default=1), vocab_ulysses=bool(self.flag("vsp")),
            embed_zero3=bool(self.flag("embed_sdp")),
            world_size=self.integer("world_size") if "world_size" in self.data else None,
            raw=dict(self.data),
        )

    def flag(self, key: str) -> int:
        value = self.integer(key, default=0, minimum=0)
        if value > 1:
            raise self.fail(key, "0 or 1", value)
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.data.get(key, default)
        if value not in choices:
            raise self.fail(key, " or ".join(choices), value)
        return value

    @staticmethod
    def _even_division(pp: int, count: int) -> list[int]:
        """Galvatron's division when the file has none: count // pp layers a stage, the rest on the last
        (galvatron/core/runtime/hybrid_parallel_config.py)."""
        return [count // pp] * (pp - 1) + [count - count // pp * (pp - 1)]
