"""Korthikanti et al. 2022, Figure 1, reproduced exactly through `estimate_analytic`.

The paper's assumptions: sequence 2048, fp16, dp 1, transformer blocks only, 18 bytes per
parameter, 12*L*h^2 parameters (no biases, no norm weights), Table 2 activations (MHA, ffn 4h,
GELU, dropout, unfused attention) times L times the interleaving factor 1 + (p-1)/(p*v).
"""

from __future__ import annotations

import pytest

from viz_app.model.analytic import AnalyticOptions, estimate_analytic, layer_activation_bytes
from viz_app.model.analytic.architecture import Architecture
from viz_app.model.config import TrainingConfig

GIB = 1024.0  # MiB per GiB


def paper_architecture(hidden: int, heads: int, layers: int) -> Architecture:
    return Architecture(
        hidden_size=hidden, num_layers=layers, num_attention_heads=heads, ffn_hidden_size=4 * hidden,
        gated_mlp=False, hidden_act="gelu", vocab_size=51200, norm_type="nonparametric", linear_bias=False,
        position_embedding="learned", max_position_embeddings=2048, attention_dropout=0.1, hidden_dropout=0.1,
    )


def paper_estimate(arch: Architecture, tp: int, pp: int, virtual: int, mbs: int, *, sp: bool, recompute: str):
    config = TrainingConfig()
    config.apply(tp=tp, pp=pp, dp=1, total_gpus=tp * pp, micro_batch_size=mbs, global_batch_size=64 * mbs,
                 seq_length=2048, num_layers=arch.num_layers, sequence_parallel=sp, mixed_precision=True)
    options = AnalyticOptions(optimizer="adam", grad_dtype="fp32", recompute=recompute, flash_attention=False,
                              kernels="fused", schedule="interleaved" if virtual > 1 else "1f1b",
                              virtual_stages=virtual)
    return estimate_analytic(config, arch, options).stages[0]


def block_states_gib(stage) -> float:
    return sum(b.mib for b in stage.blocks if b.category == "model_states" and b.key.endswith(".layers")) / GIB


def block_activation_gib(stage) -> float:
    return (stage.mib("activation.layers") + stage.mib("activation.inflight")) / GIB


CASES = [  # model, (h, a, L, t, p, v, mbs), states, no recompute, SP + selective (GiB)
    ("22B", (6144, 64, 48, 8, 1, 1, 4), 45.5625, 59.25, 9.5625),
    ("175B", (12288, 96, 96, 8, 8, 3, 1), 45.5625, 66.84375, 12.3515625),
]


@pytest.mark.parametrize(("name", "shape", "states", "plain", "selective"), CASES, ids=[c[0] for c in CASES])
def test_figure_1(name, shape, states, plain, selective):
    h, a, layers, t, p, v, mbs = shape
    arch = paper_architecture(h, a, layers)
    no_recompute = paper_estimate(arch, t, p, v, mbs, sp=False, recompute="none")
    assert block_states_gib(no_recompute) == pytest.approx(states, abs=1e-9)
    assert block_activation_gib(no_recompute) == pytest.approx(plain, abs=1e-9)
    sp_selective = paper_estimate(arch, t, p, v, mbs, sp=True, recompute="selective")
    assert block_activation_gib(sp_selective) == pytest.approx(selective, abs=1e-9)
    assert block_states_gib(sp_selective) == pytest.approx(states, abs=1e-9)


def test_embedding_and_head_are_separate_from_block_terms():
    arch = paper_architecture(6144, 64, 48)
    stage = paper_estimate(arch, 8, 1, 1, 4, sp=False, recompute="none")
    assert stage.mib("model_states.parameter.embedding") > 0
    assert stage.mib("activation.logits") > 0
    assert stage.total_mib > (block_states_gib(stage) + block_activation_gib(stage)) * GIB


@pytest.mark.parametrize("sp", [False, True])
def test_table_2_per_layer(sp):
    """Table 2 rows for one layer: no recompute, selective, full (s 2048, b 4, h 6144, a 64, t 8)."""
    s, b, h, a, t = 2048, 4, 6144, 64, 8
    arch = paper_architecture(h, a, 1)
    sbh = s * b * h

    def per_layer(recompute):
        return layer_activation_bytes(arch, s, b, tp=t, sequence_parallel=sp, recompute=recompute,
                                      flash_attention=False, kernels="fused", dtype_bytes=2)

    if sp:
        assert per_layer("none") == pytest.approx(sbh / t * (34 + 5 * a * s / h))
        assert per_layer("selective") == pytest.approx(sbh / t * 34)
        assert per_layer("full") == pytest.approx(2 * sbh / t)
    else:
        assert per_layer("none") == pytest.approx(sbh * (10 + 24 / t + 5 * a * s / (h * t)))
        assert per_layer("selective") == pytest.approx(sbh * (10 + 24 / t))
        assert per_layer("full") == pytest.approx(2 * sbh)
    no_tp = layer_activation_bytes(arch, s, b, flash_attention=False, kernels="fused", dtype_bytes=2)
    assert no_tp == pytest.approx(sbh * (34 + 5 * a * s / h))
