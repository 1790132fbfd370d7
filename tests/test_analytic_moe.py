"""Mixture of experts in the analytic estimate: EP/ETP validity, expert states, interfaces."""

from __future__ import annotations

import pytest

from viz_app.cli import main
from viz_app.model.analytic import AnalyticOptions, estimate_analytic
from viz_app.model.analytic.expert_parallel import (
    check_expert_parallel,
    expert_data_parallel_degree,
    expert_parallel_choices,
)
from viz_app.model.analytic.model_presets import load_model_preset
from viz_app.model.analytic.parameters import layer_parameters, stage_layer_indices
from viz_app.model.config import TrainingConfig
from viz_app.model.errors import StrategyError

from .test_analytic_estimate import run as estimate_run

MIB = 1 << 20


def run(model="mixtral-8x7b", options=None, **values):
    return estimate_run(model, options, **values)


@pytest.mark.parametrize(("model", "values", "message"), [
    ("llama-3-8b", dict(ep=2), "EP 2 / ETP 1: expert parallelism needs a mixture-of-experts model"),
    ("mixtral-8x7b", dict(ep=3), "EP 3 does not divide the model's 8 experts"),
    ("qwen3-30b-a3b", dict(etp=5), "ETP 5 does not divide the expert FFN width 768"),
    ("mixtral-8x7b", dict(tp=2, dp=2, ep=8),
     "EP x ETP = 8 x 1 = 8 must divide the GPUs of a pipeline stage, TP x CP x DP = 2 x 1 x 2 = 4"),
])
def test_invalid_expert_parallelism_is_named(model, values, message):
    arch = load_model_preset(model)
    kwargs = dict(tp=1, dp=8, ep=1, etp=1) | values
    with pytest.raises(StrategyError, match=message.replace("(", "\\(").replace(")", "\\)")):
        check_expert_parallel(arch, **kwargs)


def test_expert_data_parallel_group_is_world_over_pp_ep_etp():
    # Megatron: 64 GPUs, tp 2, pp 4 -> dp 8; ep 8, etp 1 -> expert-dp = 64 / (4 * 8 * 1) = 2
    assert expert_data_parallel_degree(tp=2, dp=8, ep=8, etp=1) == 2
    assert expert_data_parallel_degree(tp=2, dp=8, ep=4, etp=2, context_parallel=2) == 4
    choices = expert_parallel_choices(load_model_preset("mixtral-8x7b"), tp=2, dp=4)
    assert (8, 1) in choices and (4, 2) in choices and (3, 1) not in choices and (8, 2) not in choices


def test_expert_states_shard_over_the_expert_data_parallel_group():
    estimate, arch, config = run(tp=2, pp=4, total_gpus=64, ep=8, zero_stage=1, global_batch_size=64)
    stage = estimate.stages[1]
    blocks = {b.key: b.mib for b in stage.blocks}
    experts = sum(layer_parameters(arch, i, 2, 8, 1).expert for i in stage_layer_indices([8] * 4, 1))
    dense = sum(layer_parameters(arch, i, 2, 8, 1).dense for i in range(8, 16))
    assert experts == 8 * 1 * 3 * 4096 * 14336  # 8 layers x (8/8 experts) x whole width
    assert blocks["model_states.parameter.experts"] * MIB == pytest.approx(2 * experts)
    assert blocks["model_states.optimizer.experts"] * MIB == pytest.approx(12 * experts / 2)  # expert-dp 2
    assert blocks["model_states.optimizer.layers"] * MIB == pytest.approx(12 * dense / 8)  # dp 8
    assert blocks["model_states.gradient.experts"] * MIB == pytest.approx(4 * experts)  # ZeRO-1: unsharded


def test_moe_stages_count_their_own_layers_and_mtp():
    estimate, arch, config = run("deepseek-v3", tp=2, pp=4, total_gpus=256, ep=16, seq_length=1024,
                                 global_batch_size=256)
    first, last = estimate.stages[0], estimate.stages[-1]
    first_experts = {b.key: b for b in first.blocks}["model_states.parameter.experts"]
    # stage 0 holds layers 0-14: 3 dense + 12 MoE; the last stage adds the MTP depth's MoE layer
    assert first_experts.mib * MIB == 2 * 12 * 16 * 3 * 7168 * 2048
    last_experts = {b.key: b for b in last.blocks}["model_states.parameter.experts"]
    assert last_experts.mib * MIB == 2 * (16 + 1) * 16 * 3 * 7168 * 2048


def test_interleaved_stages_hold_every_pp_th_chunk():
    assert stage_layer_indices([4, 4], 1, virtual_stages=2) == [2, 3, 6, 7]
    assert stage_layer_indices([3, 5], 1) == [3, 4, 5, 6, 7]


def test_cli_and_url_carry_ep_etp(capsys):
    argv = ["estimate", "--model", "mixtral-8x7b", "--tp", "2", "--gpus", "16", "--ep", "4", "--etp", "2", "--json"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert '"ep": 4' in out and '"etp": 2' in out
    assert main(["estimate", "--model", "mixtral-8x7b", "--gpus", "8", "--ep", "8", "--etp", "2"]) == 2
    assert "EP x ETP = 8 x 2 = 16 must divide" in capsys.readouterr().err
    assert main(["estimate", "--preset", "llama2-7b", "--ep", "2"]) == 2
    assert "--ep: analytic-mode options" in capsys.readouterr().err


def test_url_keys():
    from viz_app.url_state import CONFIG_KEYS

    assert CONFIG_KEYS["ep"] == "ep" and CONFIG_KEYS["etp"] == "etp"


def _tensors(model, **kwargs):
    from viz_app.model.analytic import layer_saved_tensors

    arch = load_model_preset(model) if isinstance(model, str) else model
    return {t.name: t.nbytes for t in layer_saved_tensors(arch, 4096, 1, **kwargs)}


def test_fused_moe_layer_tensor_by_tensor():
    """Mixtral MoE layer, tp 2 with SP, etp 2: T = 4096/2 local tokens, R = T k etp."""
    saved = _tensors("mixtral-8x7b", tp=2, sequence_parallel=True, etp=2)
    tokens, routed, h, f = 2048, 2048 * 2 * 2, 4096, 14336
    assert saved["router input (MLP norm output)"] == 2 * tokens * h
    assert saved["router scores (softmax/sigmoid)"] == 4 * tokens * 8
    assert saved["permuted tokens (expert fc1 input)"] == 2 * routed * h
    assert saved["expert fc1 output (activation input)"] == 2 * routed * 2 * f / 2
    assert saved["expert fc2 input (activation output)"] == 2 * routed * f / 2
    assert "expert act(gate)" not in saved  # fused SwiGLU recomputes it
    balanced = sum(saved.values())
    skewed = _tensors("mixtral-8x7b", tp=2, sequence_parallel=True, etp=2, moe_load_factor=1.5)
    expert_terms = ("permuted tokens (expert fc1 input)", "expert fc1 output (activation input)",
                    "expert fc2 input (activation output)", "routing weights per permuted token (fp32)")
    assert sum(skewed.values()) - balanced == pytest.approx(0.5 * sum(saved[k] for k in expert_terms))


def test_capacity_factor_caps_or_pads_the_busiest_rank():
    arch = load_model_preset("mixtral-8x7b")
    arch.moe_capacity_factor = 1.25
    capped = _tensors(arch, moe_load_factor=2.0)["permuted tokens (expert fc1 input)"]
    assert capped == 2 * 4096 * 2 * 1.25 * 4096
    arch.moe_pad_to_capacity = True
    assert _tensors(arch, moe_load_factor=1.0)["permuted tokens (expert fc1 input)"] == capped


def test_selective_recompute_modules():
    full = _tensors("deepseek-v3", layer_index=3, recompute="selective", recompute_modules=("core_attn",))
    assert {"Q", "K", "V", "expert fc2 input (activation output)", "qkv input"} <= full.keys()
    assert full["Q"] == 2 * 4096 * 128 * 192 and full["V"] == 2 * 4096 * 128 * 128
    assert full["kv latent up-projection input"] == 2 * 4096 * 512
    assert full["shared experts fc1 output"] == 2 * 4096 * 2 * 2048
    fewer = _tensors("deepseek-v3", layer_index=3, recompute="selective",
                     recompute_modules=("core_attn", "mla_up_proj", "moe_act", "layernorm"))
    assert not {"Q", "K", "V", "expert fc2 input (activation output)", "qkv input",
                "router input (MLP norm output)"} & fewer.keys()
    moe = _tensors("deepseek-v3", layer_index=3, recompute="selective", recompute_modules=("moe",))
    assert moe["MoE input (moe recomputed)"] == 2 * 4096 * 7168 and "router scores (softmax/sigmoid)" not in moe
    dense_mlp = _tensors("deepseek-v3", layer_index=0, recompute="selective", recompute_modules=("mlp",))
    assert "fc2 input" not in dense_mlp and dense_mlp["MLP input (mlp recomputed)"] == 2 * 4096 * 7168


def test_unknown_recompute_module_is_named():
    options = AnalyticOptions(recompute="selective", recompute_modules=["core_attn", "experts"])
    with pytest.raises(StrategyError, match="unknown recompute module 'experts'"):
        run(options=options)


def test_the_last_stage_holds_the_mtp_layer_and_its_output_head():
    with_mtp, arch, _config = run("deepseek-v3", tp=8, pp=16, total_gpus=1024, ep=64, seq_length=4096,
                                  global_batch_size=1024)
    arch.mtp_layers = 0
    config = TrainingConfig()
    config.apply(**{**arch.config_defaults(), "tp": 8, "pp": 16, "total_gpus": 1024, "ep": 64,
                    "seq_length": 4096, "global_batch_size": 1024})
    without = estimate_analytic(config, arch, AnalyticOptions())
    last, last_without = with_mtp.stages[-1], without.stages[-1]
    blocks, blocks_without = ({b.key: b for b in s.blocks} for s in (last, last_without))
    assert blocks["activation.logits"].mib == pytest.approx(2 * blocks_without["activation.logits"].mib)
    assert blocks["activation.layers"].count == blocks_without["activation.layers"].count + 1
    per_layer = blocks_without["activation.layers"].mib / blocks_without["activation.layers"].count
    assert blocks["activation.layers"].mib == pytest.approx(blocks_without["activation.layers"].mib + per_layer)


def test_moe_mlp_activations_are_their_own_block():
    from viz_app.model.analytic import layer_saved_tensors

    estimate, arch, config = run("deepseek-v3", tp=2, pp=4, total_gpus=256, ep=16, seq_length=1024,
                                 global_batch_size=256, sequence_parallel=True)
    blocks = {b.key: b for b in estimate.stages[0].blocks}  # layers 0-14: 3 dense, 12 MoE
    moe = layer_saved_tensors(arch, 1024, 1, tp=2, sequence_parallel=True, layer_index=3, etp=1)
    dense = layer_saved_tensors(arch, 1024, 1, tp=2, sequence_parallel=True, layer_index=0, etp=1)
    expert_bytes = sum(t.nbytes for t in moe if t.expert)
    assert blocks["activation.experts"].count == 12
    assert blocks["activation.experts"].mib * MIB == pytest.approx(12 * expert_bytes)
    assert (blocks["activation.layers"].mib * MIB == pytest.approx(
        3 * sum(t.nbytes for t in dense) + 12 * (sum(t.nbytes for t in moe) - expert_bytes)))
    assert "activation.experts" not in {b.key for b in run("llama-3-8b", tp=1)[0].stages[0].blocks}
