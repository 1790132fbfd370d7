"""memviz: per-GPU memory of distributed LLM training, Galvatron-compatible."""

__version__ = "0.1.0"
