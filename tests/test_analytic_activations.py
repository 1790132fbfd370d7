"""Per-layer activations beyond the paper's case: GQA, SwiGLU, FlashAttention, no dropout, CP, eager."""

from __future__ import annotations

import pytest

from viz_app.model.analytic import layer_activation_bytes, layer_saved_tensors
from viz_app.model.analytic.model_presets import load_model_preset

S, B = 4096, 2


def llama(**kw):
    return layer_activation_bytes(load_model_preset("llama-3-8b"), S, B, **kw)


def test_llama3_fused_flash_bf16_per_tensor():
    """h 4096, g*d 1024, f 14336, no dropout: norms/inputs 6sbh... summed by hand."""
    sb, h, kv, f = S * B, 4096, 1024, 14336
    expected = 2 * sb * (h + h + h + kv + kv + h + h + h + 2 * f + f)
    assert llama() == expected


def test_flash_attention_drops_exactly_the_scores():
    arch = load_model_preset("llama-3-8b")
    scores = 2 * 32 * S * S * B  # softmax output, 2 bytes; Llama has no dropout
    assert layer_activation_bytes(arch, S, B, flash_attention=False) - layer_activation_bytes(arch, S, B) == scores


def test_selective_recompute_equals_flash_in_fused_accounting():
    assert llama(flash_attention=False, recompute="selective") == llama()


def test_full_recompute_keeps_the_layer_input():
    assert llama(recompute="full") == 2 * S * B * 4096
    assert llama(recompute="full", tp=4, sequence_parallel=True) == 2 * S * B * 4096 / 4


def test_context_parallel_splits_the_sequence():
    assert llama(context_parallel=4) == pytest.approx(llama() / 4)
    # unfused attention: each GPU's queries still see the whole sequence
    assert llama(context_parallel=4, flash_attention=False) - llama(context_parallel=4) == 2 * 32 * S // 4 * S * B


def test_tensor_and_sequence_parallel():
    assert llama(tp=8, sequence_parallel=True) == pytest.approx(llama() / 8)
    no_sp = llama(tp=8)
    assert no_sp == pytest.approx(llama() / 8 + 2 * S * B * 4096 * 4 * (1 - 1 / 8))  # four unsplit sbh inputs


def test_fp32_doubles_everything():
    assert llama(dtype_bytes=4) == 2 * llama()


def test_eager_llama_adds_hf_intermediates():
    """HF eager: RMSNorm keeps an fp32 input copy, the normalized tensor and rstd; act(gate) saved;
    eager attention repeats K, V to all heads and keeps the fp32 softmax and its bf16 copy."""
    sb, h, f, a = S * B, 4096, 14336, 32
    extra_sdpa = 2 * (2 * sb * h + 2 * sb * h + 4 * sb) + 2 * sb * f + 4 * a * sb
    assert llama(kernels="eager") - llama() == extra_sdpa
    extra_eager = 2 * (2 * sb * h + 2 * sb * h + 4 * sb) + 2 * sb * f + 2 * 2 * sb * (4096 - 1024) + 6 * a * S * S * B
    assert llama(kernels="eager", flash_attention=False) - llama() == extra_eager


def test_dropout_masks_are_one_byte():
    arch = load_model_preset("gpt2")  # attn_pdrop = resid_pdrop = 0.1
    with_dropout = layer_saved_tensors(arch, 1024, 1, flash_attention=False)
    names = {t.name: t.nbytes for t in with_dropout}
    assert names["attention dropout mask"] == 12 * 1024 * 1024
    assert names["attention-out dropout mask"] == names["MLP-out dropout mask"] == 1024 * 768
    without = layer_activation_bytes(arch, 1024, 1, flash_attention=False, dropout=False)
    assert sum(names.values()) - without == 12 * 1024 * 1024 * 3 + 2 * 1024 * 768


def test_parallel_residual_saves_the_shared_input_once():
    arch = load_model_preset("pythia-160m")
    names = [t.name for t in layer_saved_tensors(arch, 2048, 1)]
    assert "norm 1 input" in names and "norm 2 input" not in names


def test_torchtitan_op_sac_keeps_input_attention_output_and_every_other_matmul():
    sb, h, q, kv, f, a = S * B, 4096, 4096, 1024, 14336, 32
    # input, q (mm 1), v (mm 3), gate (mm 5), down (mm 7), attention output, logsumexp
    assert llama(recompute="op_sac") == 2 * sb * (h + q + kv + f + h + q) + 4 * a * sb
    gpt2 = load_model_preset("gpt2")  # non-gated: q, v, fc1
    # input, q, v, attention output (h each), fc1 (f), logsumexp
    assert layer_activation_bytes(gpt2, 1024, 1, recompute="op_sac") == 2 * 1024 * (4 * 768 + 3072) + 4 * 12 * 1024


def test_parallel_residual_eager_second_norm_keeps_only_its_statistics():
    arch = load_model_preset("pythia-160m")  # LayerNorm: mean and rstd, 2 x 4 bytes per token
    norm_2 = [t for t in layer_saved_tensors(arch, 2048, 1, kernels="eager") if t.name.startswith("norm 2")]
    assert [(t.name, t.nbytes) for t in norm_2] == [("norm 2 statistics (fp32 mean/rstd)", 2 * 4 * 2048)]


def test_selective_recompute_keeps_q_k_v_and_drops_the_rest_of_the_core():
    arch = load_model_preset("pythia-160m")  # eager SDPA core: logsumexp, fused QKV rest, output copy
    kept = [t.name for t in layer_saved_tensors(arch, 2048, 1, kernels="eager", recompute="selective")]
    assert {"Q", "K", "V"} <= set(kept)
    assert not {"attention logsumexp (fp32)", "rest of the fused QKV output (V is a view of it)",
                "contiguous copy of the attention output"} & set(kept)


def test_family_quirks_are_architecture_fields_not_family_names():
    """The eager terms follow the fields the importer sets, whatever the family is called."""
    s, b = 1024, 1
    llama = load_model_preset("llama-3-8b")
    fp32_softmax = layer_activation_bytes(llama, s, b, kernels="eager", flash_attention=False)
    llama.softmax_in_input_dtype = True  # GPT-2's eager attention: softmax in bf16, no fp32 copy
    assert fp32_softmax - layer_activation_bytes(llama, s, b, kernels="eager", flash_attention=False) == \
        4 * 32 * s * s * b
    plain = layer_activation_bytes(llama, s, b, kernels="eager")
    llama.param.update(sdpa_keeps_fused_qkv=True, sdpa_copies_attention_output=True)  # GPT-NeoX's SDPA path
    q_and_k, output_copy = 2 * s * b * (4096 + 1024), 2 * s * b * 4096
    assert layer_activation_bytes(llama, s, b, kernels="eager") - plain == q_and_k + output_copy
