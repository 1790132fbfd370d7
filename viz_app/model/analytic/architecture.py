"""A decoder-only transformer's architecture: the inputs of the analytic cost model.

Field names follow the Megatron-LM / Hugging Face vocabulary so that importers map one to one.
"""

from __future__ import annotations

import param

from ..limits import bounds

# "nonparametric": LayerNorm without weight or bias (OLMo-1); also the counting convention of
# Korthikanti et al. 2022, whose 12*L*h^2 parameters leave norms and biases out.
NORM_TYPES = ("rmsnorm", "layernorm", "nonparametric")
POSITION_EMBEDDINGS = ("rope", "learned", "none")
# Activations PyTorch runs as one kernel saving one tensor; the others (Hugging Face's Python
# gelu_new, x * sigmoid(1.702 x)) save more intermediates in eager mode (see docs/analytic.md).
FUSED_ACTIVATIONS = ("silu", "swish", "gelu", "gelu_pytorch_tanh", "relu")
ACTIVATIONS = FUSED_ACTIVATIONS + ("gelu_new", "quick_gelu")


class Architecture(param.Parameterized):
    """Shape of a decoder-only transformer (GPT, Llama, Mistral, Qwen2, GPT-NeoX families)."""

    model_name = param.String("custom", doc="Display name (from the preset or the imported file).")
    family = param.String("llama", doc="Model family the architecture was imported from (llama, gpt2, ...).")
    hidden_size = param.Integer(4096, bounds=bounds("hidden_size"), softbounds=(64, 16384), doc="Model width h.")
    num_layers = param.Integer(32, bounds=bounds("num_layers"), softbounds=(1, 128), doc="Decoder layers L.")
    num_attention_heads = param.Integer(
        32, bounds=bounds("num_attention_heads"), softbounds=(1, 128),
        doc="Query heads a.",
    )
    num_kv_heads = param.Integer(
        None, bounds=bounds("num_kv_heads"), allow_None=True,
        doc="Key/value heads g (GQA/MQA); None means g = a (multi-head attention).",
    )
    head_dim = param.Integer(
        None, bounds=bounds("head_dim"), allow_None=True, doc="Per-head width d; None means h / a.",
    )
    ffn_hidden_size = param.Integer(
        11008, bounds=bounds("ffn_hidden_size"), softbounds=(64, 65536),
        doc="MLP inner width f.",
    )
    gated_mlp = param.Boolean(True, doc="Gated MLP (SwiGLU/GeGLU: gate, up and down projections).")
    hidden_act = param.Selector(default="silu", objects=list(ACTIVATIONS), doc="MLP activation function.")
    vocab_size = param.Integer(32000, bounds=bounds("vocab_size"), softbounds=(1000, 262144), doc="Vocabulary size V.")
    tie_embeddings = param.Boolean(False, doc="Output head shares the input embedding matrix.")
    norm_type = param.Selector(
        default="rmsnorm", objects=list(NORM_TYPES),
        doc="RMSNorm (weight), LayerNorm (weight, bias) or non-parametric.",
    )
    linear_bias = param.Boolean(False, doc="Every linear layer has a bias (GPT-2, GPT-NeoX).")
    qkv_bias = param.Boolean(False, doc="Only the q/k/v projections have a bias (Qwen2).")
    position_embedding = param.Selector(
        default="rope", objects=list(POSITION_EMBEDDINGS), doc="Rotary (no parameters) or learned absolute.",
    )
    parallel_residual = param.Boolean(
        False, doc="Attention and MLP read the same layer input (GPT-NeoX, Pythia) instead of one after the other.",
    )
    rotary_fraction = param.Number(
        1.0, bounds=(0.0, 1.0), doc="Share of each head's width that rotary embeddings rotate (GPT-NeoX rotary_pct).",
    )
    max_position_embeddings = param.Integer(
        4096, bounds=bounds("max_position_embeddings"),
        doc="Longest sequence the model supports (learned positions: table rows).",
    )
    attention_dropout = param.Number(0.0, bounds=(0.0, 1.0), doc="Dropout on attention probabilities.")
    hidden_dropout = param.Number(0.0, bounds=(0.0, 1.0), doc="Dropout after attention/MLP and embedding.")
    # How the model's own (Hugging Face) code runs, where it saves more than the math needs; read by
    # kernels="eager" only. The importer sets them by family (measured: tests/test_torch_validation.py).
    softmax_in_input_dtype = param.Boolean(
        False, doc="Eager attention keeps its softmax in the input dtype (GPT-2) instead of fp32 plus a copy.",
    )
    sdpa_keeps_fused_qkv = param.Boolean(
        False, doc="With SDPA, V is a view of one fused QKV output, so all of it stays saved: (a + g) d wider "
                   "than V alone (GPT-NeoX).",
    )
    sdpa_copies_attention_output = param.Boolean(
        False, doc="With SDPA, the attention output is copied to a contiguous tensor before the output "
                   "projection, which saves it too: a d more (GPT-NeoX).",
    )

    @property
    def kv_heads(self) -> int:
        """g: key/value heads actually used."""
        return self.num_kv_heads or self.num_attention_heads

    @property
    def head_width(self) -> int:
        """d: per-head width actually used."""
        return self.head_dim or self.hidden_size // self.num_attention_heads

    @property
    def query_width(self) -> int:
        """a*d: width of the query (and attention output) projection."""
        return self.num_attention_heads * self.head_width

    @property
    def kv_width(self) -> int:
        """g*d: width of each of the key and value projections."""
        return self.kv_heads * self.head_width

    def config_defaults(self) -> dict:
        """What choosing this architecture sets in a TrainingConfig (like GalvatronProfile's)."""
        return {"num_layers": self.num_layers, "seq_length": min(self.max_position_embeddings, 4096)}

    def values(self) -> dict:
        """The architecture as plain values (for JSON, URLs and tests)."""
        return {name: getattr(self, name) for name in self.param if name != "name"}
