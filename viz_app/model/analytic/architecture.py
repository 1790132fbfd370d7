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
ROUTER_DTYPES = ("fp32", "compute")


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
    router_input_fp32_copy = param.Boolean(
        False, doc="The eager router casts its input to fp32 and keeps that copy (DeepSeek-V2/V3).",
    )
    sdpa_copies_attention_output = param.Boolean(
        False, doc="With SDPA, the attention output is copied to a contiguous tensor before the output "
                   "projection, which saves it too: a d more (GPT-NeoX).",
    )

    qk_norm = param.Boolean(False, doc="RMSNorm on each query and key head before rotary (Qwen3): 2 d weights.")
    qk_norm_full_width = param.Boolean(
        False, doc="The qk-norm spans the whole q (a d) and k (g d) projection instead of one head (OLMoE).",
    )
    # Mixture of experts (Shazeer et al. 2017; Fedus et al. 2022); 0 experts is a dense model.
    num_experts = param.Integer(
        0, bounds=bounds("num_experts"), softbounds=(0, 256), doc="Routed experts per MoE layer E (0: dense).",
    )
    moe_top_k = param.Integer(
        2, bounds=bounds("moe_top_k"), softbounds=(1, 16), doc="Experts each token is routed to k.",
    )
    moe_ffn_hidden_size = param.Integer(
        None, bounds=bounds("moe_ffn_hidden_size"), allow_None=True,
        doc="Inner width of one routed expert f_e; None means f.",
    )
    num_shared_experts = param.Integer(
        0, bounds=bounds("num_shared_experts"), doc="Shared experts every token passes (DeepSeek, Qwen2-MoE).",
    )
    shared_expert_ffn_hidden_size = param.Integer(
        None, bounds=bounds("shared_expert_ffn_hidden_size"), allow_None=True,
        doc="Inner width of one shared expert; None means f_e. The shared experts run as one MLP of their "
            "summed width.",
    )
    shared_expert_gate = param.Boolean(
        False, doc="A sigmoid gate (h -> 1) scales the shared experts' output (Qwen2-MoE).",
    )
    moe_first_k_dense = param.Integer(
        0, bounds=bounds("moe_first_k_dense"),
        doc="The first k layers keep a dense MLP (DeepSeek first_k_dense_replace).",
    )
    moe_layer_freq = param.Integer(
        1, bounds=bounds("moe_layer_freq"), doc="After the dense ones, layer i is MoE when (i + offset) % freq == 0.",
    )
    moe_layer_offset = param.Integer(
        0, bounds=(0, 1), doc="0: layers 0, freq, 2 freq ... are MoE (Megatron, DeepSeek); 1: layers freq-1, "
                              "2 freq-1 ... (Qwen2-MoE decoder_sparse_step).",
    )
    dense_layers = param.List(
        default=[], item_type=int, doc="Further layer indices with a dense MLP (Qwen mlp_only_layers).",
    )
    router_dtype = param.Selector(
        default="fp32", objects=list(ROUTER_DTYPES),
        doc="Dtype of router logits and probabilities (Megatron moe_router_dtype; compute: the activation dtype).",
    )
    moe_capacity_factor = param.Number(
        None, bounds=bounds("moe_capacity_factor"), allow_None=True,
        doc="Tokens an expert takes, as a multiple of its balanced share; extra tokens are dropped. None: dropless.",
    )
    moe_pad_to_capacity = param.Boolean(
        False, doc="Pad every expert's input to its capacity (Megatron moe_pad_expert_input_to_capacity).",
    )
    # Multi-head latent attention (DeepSeek-V2): low-rank q and kv, decoupled rotary key.
    q_lora_rank = param.Integer(
        None, bounds=bounds("q_lora_rank"), allow_None=True, doc="MLA query down-projection rank; None: direct q.",
    )
    kv_lora_rank = param.Integer(
        None, bounds=bounds("kv_lora_rank"), allow_None=True, doc="MLA key/value latent rank c; None: not MLA.",
    )
    qk_nope_head_dim = param.Integer(
        128, bounds=bounds("qk_nope_head_dim"), doc="MLA per-head query/key width without rotary.",
    )
    qk_rope_head_dim = param.Integer(
        64, bounds=bounds("qk_rope_head_dim"), doc="MLA per-head rotary width (the key part shared by heads).",
    )
    v_head_dim = param.Integer(128, bounds=bounds("v_head_dim"), doc="MLA per-head value width.")
    mtp_layers = param.Integer(
        0, bounds=bounds("mtp_layers"), doc="Multi-token-prediction depths (DeepSeek-V3 num_nextn_predict_layers).",
    )

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank is not None

    @property
    def expert_ffn(self) -> int:
        """f_e: inner width of one routed expert."""
        return self.moe_ffn_hidden_size or self.ffn_hidden_size

    @property
    def shared_ffn(self) -> int:
        """Summed inner width of the shared experts (0 without)."""
        return self.num_shared_experts * (self.shared_expert_ffn_hidden_size or self.expert_ffn)

    def is_moe_layer(self, index: int) -> bool:
        """Whether decoder layer `index` (0-based) has a routed-expert MLP."""
        if not self.is_moe or index < self.moe_first_k_dense or index in self.dense_layers:
            return False
        return (index + self.moe_layer_offset) % self.moe_layer_freq == 0

    def moe_layer_count(self, indices=None) -> int:
        return sum(self.is_moe_layer(i) for i in (range(self.num_layers) if indices is None else indices))

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
