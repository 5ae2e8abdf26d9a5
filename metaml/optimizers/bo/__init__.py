"""Model-based search with BoTorch: GP Bayesian optimization over the joint space.

``encoding`` turns the history into training data, ``model`` fits the GP, ``acquisition``
builds and maximizes the acquisition (limits, πBO priors), ``optimizer`` is the ``bo``
optimizer. Only ``model`` and ``acquisition`` import torch and BoTorch, and only when the
first model-based proposal is made.
"""

from __future__ import annotations

from metaml.optimizers.bo.optimizer import BayesianOptimization

__all__ = ["BayesianOptimization"]
