"""Fuzzing every input boundary with hypothesis: malformed profiles, model configs, raw bytes and links.

Each document is a bundled file with one to three values or keys made hostile (huge, negative,
non-finite, the wrong type, deeply nested, non-ASCII digits), or arbitrary bytes. Only the
project's own input error (MemvizError) may come out, never the arithmetic guard (EstimateError:
validation let a bad value through), and whatever loads estimates to finite, non-negative sizes
with a non-empty chart. The module prints how many documents it tried.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from viz_app.model.analytic import AnalyticOptions, estimate_analytic
from viz_app.model.analytic.architecture import Architecture
from viz_app.model.analytic.parameters import tensor_parallel_choices
from viz_app.model.config import TrainingConfig, nearest_at_most
from viz_app.model.errors import MemvizError
from viz_app.model.galvatron.estimate import estimate_galvatron
from viz_app.model.result import Estimate, EstimateError
from viz_app.model.uploads import read_upload
from viz_app.session import Session
from viz_app.url_state import CONFIG_KEYS, OPTION_KEYS, SESSION_KEYS, VIEW_KEYS, restore
from viz_app.view import View

from .conftest import DATA, ROOT

pytestmark = pytest.mark.slow  # minutes of work: collected first (conftest.py)

# Documents per test: 10,000 in all. Each hypothesis example carries a batch of BATCH documents:
# hypothesis's own work per example (choosing, recording and mutating examples) cost more than
# the loaders. (A failing batch shrinks its other documents to the simplest.)
EXAMPLES = {"profile": 2500, "model_config": 2500, "bytes": 4000, "link": 1000}
BATCH = 10
TRIED = dict.fromkeys(EXAMPLES, 0)
ESTIMATED: set[str] = set()  # inputs already estimated
SEEDS = {
    "profile": [ROOT / "presets/galvatron_bf16_llama3-8b.json", DATA / "v2_bf16_qwen2.5-32b.json"],
    "model_config": [*(ROOT / f"presets/analytic/{name}.json" for name in ("llama-3-8b", "gpt2", "pythia-160m")),
                     *sorted((DATA / "galvatron-meta-configs").glob("*.json"))],
}
SEED_TEXTS = {kind: [json.dumps(json.loads(path.read_text())) for path in paths] for kind, paths in SEEDS.items()}

HOSTILE_NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(0, 4000).map(lambda digits: 10**digits),  # json.dumps writes up to Python's 4300 digits
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 1e308, -0.0, 5e-324, 0.5]),
)
HOSTILE_LEAVES = st.one_of(HOSTILE_NUMBERS, st.none(), st.booleans(), st.text(max_size=12),
                          st.sampled_from(["²", "٣", "8", "-1", "1e999", "NaN", "", "x" * 5000]))
HOSTILE_VALUES = st.one_of(HOSTILE_LEAVES, st.lists(HOSTILE_LEAVES, max_size=3),
                           st.dictionaries(st.text(max_size=6), HOSTILE_LEAVES, max_size=3))
HOSTILE_KEYS = st.one_of(st.text(max_size=8), st.sampled_from(["²", "0", "-2", "9" * 40, "1" * 12, "layertype_0",
                                                               "checkpoint", "model_config", "memory_profiling"]))


def _paths(node, prefix=()) -> list[tuple]:
    """Every key path of a decoded document (dict keys and list indexes)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    paths = []
    for key, child in items:
        paths.append((*prefix, key))
        paths.extend(_paths(child, (*prefix, key)))
    return paths


# Strategies made once: one made inside a draw costs hypothesis more than the draw itself.
SEED_INDEXES = {kind: st.integers(0, len(texts) - 1) for kind, texts in SEED_TEXTS.items()}
INDEX = st.integers(0, 2**16)  # taken modulo a length known only while drawing (key paths, text)
CHANGES = st.integers(1, 3)
ACTIONS = st.sampled_from(["value", "value", "key", "delete"])
DAMAGE = st.sampled_from([None] * 18 + ["cut", "wrap"])  # now and then a cut or a deep wrapping


@st.composite
def mutated(draw, kind: str) -> bytes:
    """A seed document of `kind` with 1-3 hostile changes, serialised (NaN and Infinity as JSON's extensions)."""
    document = json.loads(SEED_TEXTS[kind][draw(SEED_INDEXES[kind])])
    for _ in range(draw(CHANGES)):
        paths = _paths(document)
        if not paths:
            break
        *parents, last = paths[draw(INDEX) % len(paths)]
        owner = document
        for key in parents:
            owner = owner[key]
        action = draw(ACTIONS)
        if action == "value":
            owner[last] = draw(HOSTILE_VALUES)
        elif isinstance(owner, dict) and action == "key":
            owner[draw(HOSTILE_KEYS)] = owner.pop(last)
        elif isinstance(owner, dict):
            del owner[last]
    text = json.dumps(document)
    damage = draw(DAMAGE)
    if damage == "cut":
        text = text[: draw(INDEX) % (len(text) + 1)]
    elif damage == "wrap":
        text = "[" * 5000 + text + "]" * 5000
    return text.encode()


def batches(documents: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(documents, min_size=BATCH, max_size=BATCH)


def _estimate_sizes_are_real(estimate: Estimate) -> None:
    assert estimate.stages
    for stage in estimate.stages:
        assert 0 < stage.total_mib < math.inf
        assert all(math.isfinite(b.mib) and b.mib >= 0 for b in stage.blocks)


def _load_and_estimate(data: bytes) -> None:
    """Only MemvizError may come out, and never the guard: a gap in validation would raise EstimateError."""
    try:
        loaded = read_upload(data, "fuzz.json")
        seen = repr(loaded.values() if isinstance(loaded, Architecture) else loaded)
        if seen in ESTIMATED:  # a change the loader ignores (an unread key): the same estimate as before
            return
        ESTIMATED.add(seen)
        config = TrainingConfig()
        if isinstance(loaded, Architecture):
            config.apply(**loaded.config_defaults(), tp=nearest_at_most(config.tp, tensor_parallel_choices(loaded)))
            estimate = estimate_analytic(config, loaded, AnalyticOptions())
        else:
            config.apply(**loaded.config_defaults(), **({} if loaded.model.num_layers else {"num_layers": 2}))
            estimate = estimate_galvatron(config, loaded)
    except EstimateError:
        raise
    except MemvizError:
        return
    _estimate_sizes_are_real(estimate)


def _fuzz_settings(kind: str):
    return settings(max_examples=EXAMPLES[kind] // BATCH, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_fuzz_settings("profile")
@given(batches(mutated("profile")))
def test_malformed_profiles(batch):
    for data in batch:
        TRIED["profile"] += 1
        _load_and_estimate(data)


@_fuzz_settings("model_config")
@given(batches(mutated("model_config")))
def test_malformed_model_configs(batch):
    for data in batch:
        TRIED["model_config"] += 1
        _load_and_estimate(data)


@_fuzz_settings("bytes")
@given(batches(st.one_of(
    st.binary(max_size=200), st.text(max_size=200).map(str.encode),
    st.integers(60, 20_000).map(lambda depth: ("[" * depth + "]" * depth).encode()),
    st.integers(60, 20_000).map(lambda depth: ('{"a":' * depth + "1" + "}" * depth).encode()))))
def test_arbitrary_bytes(batch):
    for data in batch:
        TRIED["bytes"] += 1
        _load_and_estimate(data)


LINK_KEYS = sorted({*SESSION_KEYS, *CONFIG_KEYS, *OPTION_KEYS, *VIEW_KEYS})
LINK_VALUES = st.one_of(st.text(max_size=10), HOSTILE_NUMBERS.map(str), st.sampled_from(
    ["1", "2", "4", "80", "true", "analytic", "galvatron", "llama2-70b", "gpt2", "interleaved", "zh", "GiB"]))


@pytest.fixture(scope="module")
def linked():
    return Session(), View()


@_fuzz_settings("link")
@given(batches(st.dictionaries(st.sampled_from(LINK_KEYS), LINK_VALUES, max_size=6)))
def test_links(linked, batch):
    """Links opened one after another in one session, as a user following several shared links."""
    session, view = linked
    for query in batch:
        TRIED["link"] += 1
        restore(session, view, query)  # raises nothing: each refused value is reported
        _estimate_sizes_are_real(session.estimate)


def test_zz_count(record_property):
    """Runs last in the module: how many documents were tried (all of them when the module ran whole).
    conftest.py prints the line in pytest's summary (also from an xdist worker)."""
    record_property("summary_line", f"fuzz: {sum(TRIED.values())} generated documents "
                                    f"({', '.join(f'{k} {v}' for k, v in TRIED.items())})")
    if all(TRIED.values()):
        assert sum(TRIED.values()) >= 10_000
