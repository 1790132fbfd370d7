"""The cost models' plain snapshots answer like the param objects they copy."""

from viz_app.model.analytic.architecture import Architecture
from viz_app.model.analytic.model_presets import load_model_preset
from viz_app.model.config import TrainingConfig
from viz_app.model.plain import plain_copy


def test_a_plain_copy_has_the_values_properties_and_methods():
    arch = load_model_preset("deepseek-v3")
    copy = plain_copy(arch)
    assert not isinstance(copy, Architecture)
    assert (copy.hidden_size, copy.num_layers, copy.kv_heads, copy.expert_ffn) == (7168, 61, 128, 2048)
    assert copy.is_moe and copy.is_mla
    assert [copy.is_moe_layer(i) for i in range(5)] == [arch.is_moe_layer(i) for i in range(5)] == \
        [False, False, False, True, True]
    assert copy.moe_layer_count() == arch.moe_layer_count() == 58


def test_a_plain_copy_is_a_snapshot():
    config = TrainingConfig()
    config.apply(tp=2, pp=2, total_gpus=8, global_batch_size=16)
    copy = plain_copy(config)
    config.apply(tp=4)
    assert (copy.tp, copy.dp, config.tp, config.dp) == (2, 2, 4, 1)
