"""The English and Chinese catalogs cover every string the app can show, with the same fields.

`t()` falls back to English and then to the key, so a gap never shows as an error on the page:
these tests are what catches it.
"""

import ast
import itertools
import re
import string
from pathlib import Path

import pytest

from viz_app.i18n import CATALOGS, LANGUAGES, t
from viz_app.model.analytic import estimate_analytic
from viz_app.model.analytic.frameworks import options_for
from viz_app.model.analytic.model_presets import list_model_presets, load_model_preset
from viz_app.model.analytic.options import FRAMEWORKS
from viz_app.model.config import TrainingConfig
from viz_app.model.explore.grid import EXCLUSION_REASONS
from viz_app.model.galvatron.estimate import estimate_galvatron
from viz_app.model.galvatron.presets import list_presets, load_preset
from viz_app.model.result import PHASE_KINDS
from viz_app.ui.explorer import COLUMNS as EXPLORER_COLUMNS
from viz_app.view import View

pytestmark = pytest.mark.slow  # minutes of work: collected first (conftest.py)

SOURCES = Path(__file__).resolve().parent.parent / "viz_app"
EN, ZH = CATALOGS["en"], CATALOGS["zh"]
NAMESPACES = {key.split(".")[0] for key in EN}
KEY_LITERAL = re.compile(r"[a-z_]+(\.[a-z_0-9]+)+")
FILE_NAME = re.compile(r".*\.(json|html|js|css|py|whl|txt|png)$")
# Entries that read the same in both languages on purpose (names, units, acronyms).
SAME_IN_BOTH = {"app.title", "gpu.label", "gpu.option", "total.mib_equivalent", "facts.precision_fp32",
                "block.activation.logits", "block_short.overhead.cuda_context", "tensor.act_gate",
                "opt.optimizer.adam", "opt.optimizer.adamw", "opt.grad_dtype.bf16",
                "opt.schedule.1f1b", "opt.schedule.gpipe", "arch.norm_type.rmsnorm", "arch.norm_type.layernorm",
                # framework and dtype names
                "opt.framework.megatron", "opt.framework.torchtitan", "opt.optimizer_state_dtype.fp32",
                # parallelism abbreviations in the explorer
                "explore.col.tp", "explore.col.pp", "explore.col.dp", "explore.col.cp", "explore.col.ep",
                "explore.col.etp", "explore.col.zero",
                "explore.strategy"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _modules() -> list[tuple[Path, ast.Module]]:
    paths = [p for p in sorted(SOURCES.rglob("*.py")) if "i18n" not in p.parts]
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in paths]


def literal_keys() -> set[tuple[str, str]]:
    """(key, file) for every string literal in the app that names a catalog entry."""
    found = set()
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEY_LITERAL.fullmatch(node.value) \
                    and node.value.split(".")[0] in NAMESPACES and not FILE_NAME.match(node.value):
                found.add((node.value, path.name))
    return found


def dynamic_prefixes() -> set[str]:
    """Catalog keys built at run time: f"tab.{key}", "notice." + code, ..."""
    prefixes = set()
    for _path, tree in _modules():
        for node in ast.walk(tree):
            head = None
            if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                head = node.values[0].value
            elif isinstance(node, ast.BinOp) and isinstance(node.left, ast.Constant):
                head = node.left.value
            if isinstance(head, str) and re.fullmatch(r"[a-z_]+\.", head) and head[:-1] in NAMESPACES:
                prefixes.add(head)
    return prefixes


def notice_codes_in_sources() -> set[str]:
    codes = set()
    for _path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Notice" and node.args \
                    and isinstance(node.args[0], ast.Constant):
                codes.add(node.args[0].value)
    return codes


def _galvatron_estimates():
    for name in list_presets():
        profile = load_preset(name)
        for pp, checkpoint, zero, tp in itertools.product((1, 3), (False, True), (0, 3), (8, 16)):
            config = TrainingConfig()
            config.apply(**profile.config_defaults(), pp=pp, checkpoint=checkpoint, zero_stage=zero, tp=tp,
                         total_gpus=8 * pp, global_batch_size=16)
            yield estimate_galvatron(config, profile)


def _analytic_estimates():
    for name in list_model_presets():
        arch = load_model_preset(name)
        # Half of the 2^4 switches (pp, checkpoint, zero, mixed): those with an even count of the second
        # values. Any three of them still meet in all 8 combinations; only blocks that need all four at
        # once could be missed.
        for pp, checkpoint, zero, mixed, framework in itertools.product(
                (1, 3), (False, True), (0, 3), (True, False), FRAMEWORKS):
            if ((pp == 3) + checkpoint + (zero == 3) + (not mixed)) % 2:
                continue
            config = TrainingConfig()
            config.apply(tp=1, pp=pp, total_gpus=2 * pp, checkpoint=checkpoint, zero_stage=zero, mixed_precision=mixed,
                         seq_length=1024, num_layers=arch.num_layers, global_batch_size=8)
            # every preset: each switches on blocks of its own (FSDP2's unsharded stage under PP)
            yield estimate_analytic(config, arch, options_for({"framework": framework}))


@pytest.fixture(scope="module")
def emitted() -> dict[str, set[str]]:
    """Block keys, categories and notice codes that the cost models produce over the presets."""
    out = {"blocks": set(), "categories": set(), "notices": set()}
    estimates = list(_galvatron_estimates()) + list(_analytic_estimates())
    assert {e.mode for e in estimates} == {"galvatron", "analytic"}
    for estimate in estimates:
        out["notices"] |= {n.code for n in estimate.notices}
        for stage in estimate.stages:
            out["blocks"] |= {b.key for b in stage.blocks}
            out["categories"] |= {b.category for b in stage.blocks}
    return out


def test_both_catalogs_have_exactly_the_same_keys():
    assert sorted(set(EN) - set(ZH)) == [], "missing in zh.py"
    assert sorted(set(ZH) - set(EN)) == [], "missing in en.py"
    assert set(LANGUAGES) == set(CATALOGS)


def test_no_entry_is_empty():
    assert [f"{lang}:{k}" for lang, cat in CATALOGS.items() for k, v in cat.items() if not v.strip()] == []


def test_format_fields_are_identical_across_languages():
    differing = {k: (fields(EN[k]), fields(ZH.get(k, ""))) for k in EN if fields(EN[k]) != fields(ZH.get(k, ""))}
    assert differing == {}


def test_every_entry_formats_with_its_fields():
    for lang, catalog in CATALOGS.items():
        for key, text in catalog.items():
            values = dict.fromkeys(fields(text), 7)
            # Only the braces written doubled ("{{", a literal brace in a message) are left.
            assert t(key, lang, **values).count("{") == text.count("{{"), f"{lang}:{key}"


def english_words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{3,}", re.sub(r"\{[^}]*\}", "", text))


def test_chinese_entries_are_translated():
    """No English sentence copied into zh.py: an entry with English words needs Chinese characters."""
    untranslated = sorted(
        k for k in EN
        if k not in SAME_IN_BOTH and (ZH[k] == EN[k] or (english_words(EN[k]) and not CJK.search(ZH[k])))
    )
    assert untranslated == []


def test_every_key_literal_in_the_sources_exists():
    keys = literal_keys()
    assert len(keys) > 40  # the scan finds the app's keys (a broken scan must not pass silently)
    missing = sorted(f"{file}: {key}" for key, file in keys if key not in EN or key not in ZH)
    assert missing == []


def test_keys_built_at_run_time_exist():
    """Each dynamic key family is enumerated here; a new family in the sources must be added."""
    families = {
        "param.": {f"param.{name}" for name in TrainingConfig.param if name != "name"},
        "tab.": {f"tab.{tab}" for tab in View.param.tab.objects},
        "notice.": {f"notice.{code}" for code in notice_codes_in_sources()},
        "explore.": ({f"explore.col.{key}" for key, _field in EXPLORER_COLUMNS}
                     | {f"explore.reason.{reason}" for reason in EXCLUSION_REASONS}
                     | {"explore.gpus", "explore.gbs", "explore.seq"}),
        "phase.": {f"phase.{kind}" for kind in PHASE_KINDS},
    }
    assert dynamic_prefixes() <= set(families), "a new run-time key family: enumerate it in this test"
    assert len(families["notice."]) >= 4
    missing = sorted(k for keys in families.values() for k in keys if k not in EN or k not in ZH)
    assert missing == []


def test_every_block_category_and_notice_a_cost_model_emits_has_a_label(emitted):
    assert {"activation.layers", "model_states.optimizer", "overhead.cuda_context"} <= emitted["blocks"]
    missing = sorted(
        [f"block.{k}" for k in emitted["blocks"]] + [f"category.{c}" for c in emitted["categories"]]
        + [f"notice.{c}" for c in emitted["notices"]]
    )
    missing = [k for k in missing if k not in EN or k not in ZH]
    assert missing == []
