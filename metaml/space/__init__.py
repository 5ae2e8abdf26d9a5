"""Search spaces: parameters, conditions, nesting, priors, sampling and encoding."""

from __future__ import annotations

from metaml.space.parameters import (
    CONFIDENCE_MASS,
    CONFIDENCE_STD,
    Categorical,
    Constant,
    Fidelity,
    Float,
    Int,
    Parameter,
)
from metaml.space.space import Dimension, Space

__all__ = [
    "CONFIDENCE_MASS",
    "CONFIDENCE_STD",
    "Categorical",
    "Constant",
    "Dimension",
    "Fidelity",
    "Float",
    "Int",
    "Parameter",
    "Space",
]
