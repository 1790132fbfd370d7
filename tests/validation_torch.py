"""Helpers of the torch validation harness: tiny Hugging Face models, saved-tensor measurement.

Builds models from configs with random weights (no download), counts their parameters, and
measures the bytes autograd keeps for backward with `torch.autograd.graph.saved_tensors_hooks`,
counting each underlying storage once (views share a storage; parameters are not activations).
"""

from __future__ import annotations

import torch
import transformers

from .tiny_shapes import LAYER_KEY, TINY, TINY_MOE


def tiny_config(family: str, layers: int) -> transformers.PretrainedConfig:
    config_class = transformers.CONFIG_MAPPING[family]
    shape = TINY[family] if family in TINY else TINY_MOE[family]
    return config_class(**shape, **{LAYER_KEY.get(family, "num_hidden_layers"): layers}, use_cache=False)


def tiny_model(family: str, layers: int, attention: str = "sdpa", dtype: torch.dtype = torch.float32):
    torch.manual_seed(0)
    config = tiny_config(family, layers)
    model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation=attention)
    return model.to(dtype).train()


def parameter_total(model) -> int:
    """Unique parameters (tied weights once), as `model.num_parameters()` counts them."""
    return sum(p.numel() for p in model.parameters())


def routed_expert_parameters(model) -> int:
    """Parameters of the routed experts (`mlp.experts.*`; shared experts and routers excluded)."""
    return sum(p.numel() for name, p in model.named_parameters() if ".mlp.experts." in name)


def saved_bytes(model, seq_length: int, batch: int) -> int:
    """Bytes of the distinct non-parameter storages autograd saves in one forward pass with loss."""
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq_length), generator=generator)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = model(input_ids=ids, labels=ids).loss
    loss.backward()  # the graph must be complete and usable
    return sum(storages.values())


def per_layer_saved_bytes(family: str, seq_length: int, batch: int, attention: str, dtype: torch.dtype,
                          layers: tuple[int, int] = (2, 4)) -> tuple[float, int]:
    """(bytes each extra decoder layer saves, bytes saved by the model with the fewer layers).

    The difference of two depths removes everything outside the layers (embedding, loss, and
    tensors all layers share such as rotary cos/sin)."""
    few, many = (saved_bytes(tiny_model(family, n, attention, dtype), seq_length, batch) for n in layers)
    return (many - few) / (layers[1] - layers[0]), few


def cpu_layernorm_statistics_gap(arch, seq_length: int, batch: int, dtype: torch.dtype, norms: int) -> int:
    """Bytes the analytic count exceeds a CPU run by: CPU's native_layer_norm keeps mean and rstd
    in bf16 for bf16 input, CUDA (which the model follows) in fp32."""
    if arch.norm_type != "layernorm" or dtype == torch.float32:
        return 0
    return norms * 2 * seq_length * batch * (4 - torch.finfo(dtype).bits // 8)


def analytic_per_layer(arch, seq_length: int, batch: int, attention: str, dtype: torch.dtype,
                       layer_index: int = 0) -> float:
    from viz_app.model.analytic import layer_activation_bytes

    return layer_activation_bytes(arch, seq_length, batch, kernels="eager", flash_attention=attention == "sdpa",
                                  dropout=False, dtype_bytes=torch.finfo(dtype).bits // 8, layer_index=layer_index)


def analytic_outside_layers(arch, seq_length: int, batch: int, dtype: torch.dtype) -> float:
    """Embedding-side and loss-side tensors (the analytic embedding and logits blocks, tp 1)."""
    from viz_app.model.analytic import activations as act

    x = act.layer_shape(arch, seq_length, batch, dtype_bytes=torch.finfo(dtype).bits // 8)
    tensors = act.embedding_saved_tensors(arch, x, dropout=False, kernels="eager") + act.logits_saved_tensors(
        arch, x, padded_vocab=arch.vocab_size, fp32_copies=1, kernels="eager")
    return sum(t.nbytes for t in tensors)


def main() -> None:
    """Print measured / analytic per model, attention and dtype (the table of docs/analytic.md)."""
    from viz_app.model.analytic.model_config_import import import_model_config

    seq_length, batch = 40, 3
    print("family    attention dtype     per-layer measured  analytic    ratio")
    for family in TINY:
        arch = import_model_config(tiny_config(family, 2).to_dict(), family)
        for attention in ("eager", "sdpa"):
            for dtype in (torch.float32, torch.bfloat16):
                measured, _ = per_layer_saved_bytes(family, seq_length, batch, attention, dtype)
                analytic = analytic_per_layer(arch, seq_length, batch, attention, dtype)
                print(f"{family:9} {attention:9} {str(dtype)[6:]:9} {measured:18,.0f}  {analytic:10,.0f}  "
                      f"{measured / analytic:.4f}")


if __name__ == "__main__":
    main()
