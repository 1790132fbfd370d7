"""The tiny Hugging Face model shapes the torch validations build (plain data: no torch import)."""

# Tiny shapes chosen so that no two dimensions coincide (s != d != h ...): a term with the
# wrong shape cannot match by accident.
TINY = {
    "llama": dict(hidden_size=96, intermediate_size=200, num_attention_heads=6, num_key_value_heads=2,
                  vocab_size=211, max_position_embeddings=128, attention_bias=False),
    "qwen2": dict(hidden_size=96, intermediate_size=200, num_attention_heads=6, num_key_value_heads=3,
                  vocab_size=211, max_position_embeddings=128),
    "gpt2": dict(n_embd=96, n_head=6, vocab_size=211, n_positions=128, attn_pdrop=0.0, resid_pdrop=0.0,
                 embd_pdrop=0.0, bos_token_id=0, eos_token_id=0),
    "gpt_neox": dict(hidden_size=96, intermediate_size=288, num_attention_heads=6, vocab_size=211,
                     max_position_embeddings=128, rotary_pct=0.25, attention_dropout=0.0, hidden_dropout=0.0),
}
# Mixture-of-experts and MLA families: parameter counts checked per sharding bucket. Layers 0..2
# mix dense and MoE MLPs (first-k dense, sparse step, mlp_only_layers).
TINY_MOE = {
    "mixtral": dict(hidden_size=96, intermediate_size=200, num_attention_heads=6, num_key_value_heads=2,
                    vocab_size=211, num_local_experts=5, num_experts_per_tok=2, max_position_embeddings=128),
    "qwen3_moe": dict(hidden_size=96, intermediate_size=200, moe_intermediate_size=56, num_attention_heads=6,
                      num_key_value_heads=2, head_dim=20, vocab_size=211, num_experts=5, num_experts_per_tok=2,
                      decoder_sparse_step=2, mlp_only_layers=[], max_position_embeddings=128),
    "qwen2_moe": dict(hidden_size=96, intermediate_size=200, moe_intermediate_size=56,
                      shared_expert_intermediate_size=72, num_attention_heads=6, num_key_value_heads=2,
                      vocab_size=211, num_experts=5, num_experts_per_tok=2, mlp_only_layers=[1],
                      max_position_embeddings=128),
    "deepseek_v3": dict(hidden_size=96, intermediate_size=200, moe_intermediate_size=56, num_attention_heads=6,
                        num_key_value_heads=6, vocab_size=211, n_routed_experts=8, n_shared_experts=1,
                        num_experts_per_tok=2, first_k_dense_replace=1, q_lora_rank=48, kv_lora_rank=40,
                        qk_nope_head_dim=24, qk_rope_head_dim=8, v_head_dim=20, n_group=2, topk_group=1,
                        max_position_embeddings=128),
    "deepseek_v2": dict(hidden_size=96, intermediate_size=200, moe_intermediate_size=56, num_attention_heads=6,
                        num_key_value_heads=6, vocab_size=211, n_routed_experts=8, n_shared_experts=2,
                        num_experts_per_tok=2, first_k_dense_replace=1, q_lora_rank=None, kv_lora_rank=40,
                        qk_nope_head_dim=24, qk_rope_head_dim=8, v_head_dim=20, max_position_embeddings=128),
    "olmoe": dict(hidden_size=96, intermediate_size=56, num_attention_heads=6, num_key_value_heads=6,
                  vocab_size=211, num_experts=8, num_experts_per_tok=2, max_position_embeddings=128,
                  pad_token_id=0, eos_token_id=0, bos_token_id=0),
    "qwen3": dict(hidden_size=96, intermediate_size=200, num_attention_heads=6, num_key_value_heads=2, head_dim=20,
                  vocab_size=211, max_position_embeddings=128),
}
LAYER_KEY = {"llama": "num_hidden_layers", "qwen2": "num_hidden_layers", "gpt2": "n_layer",
             "gpt_neox": "num_hidden_layers"}
