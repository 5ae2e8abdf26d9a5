"""Optimizers: one strategy per module behind one small contract (``ask(history) -> Proposal``)."""

from __future__ import annotations

from metaml.optimizers.base import Optimizer
from metaml.optimizers.random_search import RandomSearch
from metaml.optimizers.registry import available, make_optimizer, parse_spec, register

__all__ = ["Optimizer", "RandomSearch", "available", "make_optimizer", "parse_spec", "register"]
