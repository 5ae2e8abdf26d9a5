"""Benchmarks of metaml's optimizers on surrogate and synthetic problems (see docs/benchmarks.md).

A development package beside ``metaml/``: run it from the repository root as ``python -m benchmarks``.
"""
