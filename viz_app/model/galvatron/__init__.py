"""Galvatron's cost model: its memory-profiling files and its Memory Visualizer's numbers."""
