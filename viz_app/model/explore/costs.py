"""What separates strategies that fit, without a time model: pipeline bubble, recomputed FLOPs and
bytes communicated. Formulas and sources: docs/explorer.md. Arguments may be numpy arrays (one
entry per strategy) or numbers.
"""

from __future__ import annotations

import numpy as np

COMM_KINDS = ("tp", "cp", "ep", "dp", "pp")
# Collectives per layer and micro-batch, in units of (t - 1)/t x one activation (s/cp x b x h
# elements): Megatron's TP runs 2 all-reduces forward and 2 backward (with sequence parallelism 2
# all-gathers + 2 reduce-scatters each way, the same volume): Korthikanti et al. 2022 section 4.2.2.
TP_UNITS = 8
# What recomputing the forward repeats: full recompute all 4 forward collectives; torchtitan's
# op_sac keeps reduce-scatter outputs (its _save_list) but repeats the 2 all-gathers.
TP_RECOMPUTE_UNITS = {"none": 0, "selective": 0, "full": 4, "op_sac": 2}
# Context parallelism (Megatron ring attention): K and V go round the ring in forward, K, V and
# their gradients in backward: 3 x (cp - 1) x the local K, V per layer and micro-batch.
CP_UNITS = 3
CP_RECOMPUTE_UNITS = {"none": 0, "selective": 0, "full": 1, "op_sac": 0}
# Expert parallelism (Megatron's all-to-all token dispatcher): each MoE layer sends its routed tokens
# (T k of them, h wide) to the experts' ranks and combines them back, forward and backward: 4 all-to-alls
# of which (ep - 1)/ep leaves the GPU; full recompute runs the forward pair again.
EP_UNITS = 4
EP_RECOMPUTE_UNITS = {"none": 0, "selective": 0, "full": 2, "op_sac": 0}


def bubble_fraction(pp, chunks, virtual_stages):
    """Idle share of a pipeline step: (pp - 1) / (m v) (Narayanan et al. 2021, section 2.2)."""
    return (pp - 1) / (chunks * virtual_stages)


def tp_bytes(tp, layers, chunks, activation_bytes, recompute_units):
    """Bytes a GPU sends for tensor parallelism per step; `activation_bytes`: s/cp x b x h x e."""
    units = TP_UNITS + recompute_units
    return units * (tp - 1) / tp * activation_bytes * layers * chunks


def cp_bytes(cp, layers, chunks, kv_bytes, recompute_units):
    """Bytes a GPU sends for context parallelism per step; `kv_bytes`: its K and V, 2 x s/cp x b x g d/t x e."""
    return (CP_UNITS + recompute_units) * (cp - 1) * kv_bytes * layers * chunks


def ep_bytes(ep, moe_layers, chunks, routed_bytes, recompute_units):
    """Bytes a GPU sends for expert parallelism per step; `routed_bytes`: its routed tokens, T k x h x e."""
    return (EP_UNITS + recompute_units) * (ep - 1) / ep * routed_bytes * moe_layers * chunks


def dp_bytes(dp_group, zero_stage, chunks, params, gradient_bytes, weight_bytes, gather_once):
    """Bytes a GPU sends to synchronise `params` over its data-parallel group (dp x cp) per step.

    ZeRO-0: all-reduce of the gradients, 2 (N-1)/N P g. ZeRO-1/2: reduce-scatter of the gradients and
    all-gather of the updated weights, (N-1)/N P (g + w). ZeRO-3: weights all-gathered in every
    micro-batch's forward and backward, gradients reduce-scattered in each: m (N-1)/N P (2w + g);
    once per step where the weights stay gathered (`gather_once`, FSDP2 under PP). Rajbhandari et
    al. 2020, section 7.
    """
    share = (dp_group - 1) / dp_group * params
    zero3_times = np.where(gather_once, 1, chunks)
    return np.select(
        [zero_stage == 0, zero_stage < 3],
        [2 * share * gradient_bytes, share * (gradient_bytes + weight_bytes)],
        zero3_times * share * (2 * weight_bytes + gradient_bytes),
    )


def pp_bytes(pp, stage, chunks, virtual_stages, boundary_bytes):
    """Bytes a GPU sends between pipeline stages per step: each micro-batch's activation forward and
    its gradient backward once per model chunk, except forward from the last stage's last chunk and
    backward from the first stage's first."""
    sends = 2 * chunks * virtual_stages - chunks * ((stage == pp - 1) + (stage == 0))
    return np.where(pp > 1, sends * boundary_bytes, 0.0)
