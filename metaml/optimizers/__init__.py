"""Optimizers: one strategy per module behind one small contract (``ask(history) -> Proposal``)."""

from __future__ import annotations

from metaml.optimizers.asha import ASHA
from metaml.optimizers.base import Optimizer
from metaml.optimizers.bo import BayesianOptimization
from metaml.optimizers.hyperband import Hyperband
from metaml.optimizers.model_sampler import BOHB  # (with priorband: registers its sampler by name)
from metaml.optimizers.priorband import PriorBand
from metaml.optimizers.random_search import RandomSearch
from metaml.optimizers.registry import available, make_optimizer, parse_spec, register
from metaml.optimizers.samplers import Sampler
from metaml.optimizers.successive_halving import SuccessiveHalving

__all__ = [
    "ASHA",
    "BOHB",
    "BayesianOptimization",
    "Hyperband",
    "Optimizer",
    "PriorBand",
    "RandomSearch",
    "Sampler",
    "SuccessiveHalving",
    "available",
    "make_optimizer",
    "parse_spec",
    "register",
]
