"""Layers of each model chunk of each pipeline stage, by Megatron-Core's rules.

Megatron-LM megatron/core/transformer/transformer_block.py L76-203 (`get_num_layers_to_build`) at
NVIDIA/Megatron-LM@d98e8a64ddf34856e74b24714e3bedb2f5a39553:

- uneven first / last stage (`--decoder-first-pipeline-num-layers`, `--decoder-last-pipeline-num-layers`):
  those stages hold the given layers, the stages between split the rest evenly (it must divide);
- the embedding and / or the loss counted as one layer each in the split
  (`--account-for-embedding-in-pipeline-split`, `--account-for-loss-in-pipeline-split`): (L + 1 + 1)
  must divide into pp x v equal model chunks; the first chunk of the first stage builds one layer
  fewer, the last chunk of the last stage one fewer (so 126 layers fit 8 stages x 2 chunks of 8);
- with v virtual stages each stage's layers divide into v equal chunks (it must divide).

Without those options: an explicit `pp_division`, else as even as possible (extra layers on the
last stages, which hold the fewest in-flight micro-batches under 1F1B).
"""

from __future__ import annotations

from ..errors import StrategyError
from .options import AnalyticOptions
from .parameters import stage_layer_counts


def _equal_chunks(stage_layers: list[int], virtual_stages: int) -> list[list[int]]:
    uneven = [n for n in stage_layers if n % virtual_stages]
    if uneven:
        raise StrategyError(key="error.virtual_uneven", virtual=virtual_stages, layers=uneven[0])
    return [[n // virtual_stages] * virtual_stages for n in stage_layers]


def _first_last_stage_layers(num_layers: int, pp: int, first: int, last: int) -> list[int]:
    ends = [n for n in (first, last) if n]
    middle_stages = pp - len(ends)
    rest = num_layers - sum(ends)
    if rest < 0 or (middle_stages and (rest % middle_stages or rest == 0)) or (not middle_stages and rest):
        raise StrategyError(key="error.first_last_layers", first=first or "-", last=last or "-", pp=pp,
                            layers=num_layers)
    per_middle = rest // middle_stages if middle_stages else 0
    layers = [per_middle] * pp
    if first:
        layers[0] = first
    if last:
        layers[-1] = last
    return layers


def _with_embedding_and_loss(num_layers: int, pp: int, virtual_stages: int, embedding: bool,
                             loss: bool) -> list[list[int]]:
    total = num_layers + embedding + loss
    chunks = pp * virtual_stages
    # Megatron asserts only that the first and last chunks keep >= 0 decoder layers
    # (megatron/core/transformer/transformer_block.py L185-200 at d98e8a64): a chunk may hold just the embedding
    if total % chunks:
        raise StrategyError(key="error.split_with_embedding_loss", total=total, chunks=chunks)
    per_chunk = total // chunks
    layers = [[per_chunk] * virtual_stages for _ in range(pp)]
    layers[0][0] -= embedding
    layers[-1][-1] -= loss
    # Every stage keeps a decoder layer: an empty chunk needs v > 1, and then the stage has others
    # (with v = 1, L + 2 = pp would mean fewer layers than stages, refused above).
    return layers


def chunk_layer_counts(num_layers: int, pp: int, options: AnalyticOptions) -> list[list[int]]:
    """Layers of each model chunk (virtual stage) of each pipeline stage, in chunk order."""
    v = options.virtual_stages
    first, last = options.first_stage_layers, options.last_stage_layers
    embedding, loss = options.embedding_in_pipeline_split, options.loss_in_pipeline_split
    if pp > num_layers:
        raise StrategyError(key="error.pp_over_layers", pp=pp, layers=num_layers)
    if (first or last) and pp > 1:
        if embedding or loss:  # Megatron asserts the same
            raise StrategyError(key="error.first_last_with_embedding_loss")
        return _equal_chunks(_first_last_stage_layers(num_layers, pp, first, last), v)
    if (embedding or loss) and pp > 1 and not options.pp_division:
        return _with_embedding_and_loss(num_layers, pp, v, embedding, loss)
    return _equal_chunks(stage_layer_counts(num_layers, pp, options.pp_division), v)
