"""Which Latin words a Chinese page may show: names, units and the symbols of formulas.

Shared by the render-level check (tests/test_zh_page_text.py, Bokeh models of the built page) and
the browser check (tests/test_app_looks.py, the text Chromium draws).
"""

from __future__ import annotations

import re

from viz_app.model.analytic.model_presets import list_model_presets
from viz_app.model.galvatron.presets import list_presets
from viz_app.model.gpus import GPUS

# Names (models, GPUs, frameworks, papers' authors, products, modules, dtypes); file names, paths,
# code identifiers and commit hashes are taken out first (CODE).
NAMES = {
    "Galvatron", "Hetu", "PKU", "DAIR", "Megatron", "LM", "Core", "DeepSpeed", "ZeRO", "HF", "torchtitan", "FSDP",
    "PyTorch", "CUDA", "NCCL", "GPU", "TE", "RoPE", "SwiGLU", "GPT", "NeoX", "RMSNorm", "LayerNorm", "FlashAttention",
    "MLP", "AdamW", "Adam", "SGD", "GPipe", "F1B", "Transformer", "Korthikanti", "Narayanan", "Shoeybi", "Rajbhandari",
    "Huang", "Chen", "memviz", "Logits", "logits", "dropout", "softmax", "sigmoid", "logsumexp", "qkv", "QKV", "fc",
    "gate", "up", "down", "silu", "swish", "gelu", "relu", "swiglu", "rmsnorm", "layernorm", "rope", "learned", "alibi",
    "none",
    "config", "adam", "adamw", "sgd", "EN", "JSON", "BF", "FP", "bf", "fp", "int", "rstd", "PP", "TP", "DP", "CP", "SP",
    # MoE / MLA, frameworks' and PyTorch's own terms (names of products, APIs and collectives), hardware
    "MoE", "EP", "ETP", "MLA", "MTP", "FFN", "QK", "Qwen", "OLMoE", "torchtune", "Trainer", "autograd", "foreach",
    "torch", "reduce", "scatter", "CPU", "mlp", "moe", "core", "attn", "IPG",
    # BokehJS's MultiChoice titles each chip's close button "Remove item"; Bokeh offers no setting for it
    "Remove", "item",
    *(word for name in [*list_presets(), *list_model_presets(), *(g.name for g in GPUS)]
      for word in re.findall(r"[A-Za-z]+", name)),
}
UNITS = {"MiB", "GiB", "GB", "B", "CSV", "PNG", "JSON"}  # units and file formats
SYMBOLS = {"tp", "pp", "dp", "cp", "sp", "etp", "mbs", "act", "MBS", "GBS", "KV", "max", "min", "sb", "sbh", "sbf",
           "sbV", "sba", "as", "rot", "cos", "sin", "sqrt", "kv"}
# File names, paths, identifiers with an underscore, dotted names (torch.empty), calls (step()), quoted
# config values ('auto'), collectives (all-reduce), commit hashes (7 to 40 hex digits).
CODE = re.compile(r"[\w./-]+\.(?:py|js|md|json)\b|\w+(?:/[\w.-]+)+|\w*_\w+(?:=\w+)?|\b[0-9a-f]{7,40}\b"
                  r"|\b\w+(?:\.\w+)+|\b\w+\(\)|'[\w.-]+'|\ball-(?:reduce|gather|to-all)\b")


def latin_words(texts: list[str]) -> set[str]:
    """Latin words in `texts` that are neither names, units nor symbols (one letter is a symbol)."""
    words = {w for text in texts for w in re.findall(r"[A-Za-z]+", CODE.sub(" ", text))}
    return {w for w in words if len(w) > 1 and w not in NAMES | UNITS | SYMBOLS}
