"""The explorer's own inputs (the model and the GPU's capacity are the session's and the view's)."""

from __future__ import annotations

import param


class ExploreInputs(param.Parameterized):
    """Whether the strategy explorer is open, and the GPUs, global batch and sequence length it searches for."""

    # Closed by default: a search (up to ~1 s for a 671B MoE on thousands of GPUs) and its table and
    # chart cost every page load and every model change, for users who never look at them.
    shown = param.Boolean(False, doc="Whether the explorer is open; it searches only while it is.")

    gpus = param.Integer(64, bounds=(1, 65536), doc="GPUs in the job.")
    global_batch_size = param.Integer(256, bounds=(1, None), doc="Samples per optimizer step.")
    seq_length = param.Integer(4096, bounds=(1, None), doc="Sequence length in tokens.")
