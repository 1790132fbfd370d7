"""The explorer's own inputs (the model and the GPU's capacity are the session's and the view's)."""

from __future__ import annotations

import param


class ExploreInputs(param.Parameterized):
    """GPUs, global batch and sequence length the strategy explorer searches for."""

    gpus = param.Integer(64, bounds=(1, 65536), doc="GPUs in the job.")
    global_batch_size = param.Integer(256, bounds=(1, None), doc="Samples per optimizer step.")
    seq_length = param.Integer(4096, bounds=(1, None), doc="Sequence length in tokens.")
