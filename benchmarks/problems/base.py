"""The benchmark problem contract: a space with a fidelity, objectives, and a cheap evaluation.

A problem stands in for a training run. Its value at fidelity ``f`` is a deterministic
function of (config, f, seed), so a learning curve is a prefix of the full run: training to
``f`` and continuing to ``f'`` ends where training to ``f'`` directly ends. The runner can
therefore simulate continuation by evaluating the target fidelity and charging only the
extra steps.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from metaml.errors import MetamlError
from metaml.objectives import Objective
from metaml.space import Space

#: Where the shared, read-only data lives unless ``METAML_DATA_DIR`` says otherwise.
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


class ProblemUnavailable(MetamlError):
    """A problem's data or a package it needs is missing here; the message says what to do."""


def data_dir() -> Path:
    """The shared data folder: ``$METAML_DATA_DIR``, else ``../shared/data`` beside the repository."""
    env = os.environ.get("METAML_DATA_DIR")
    return Path(env).expanduser() if env else DEFAULT_DATA_DIR.resolve()


class Problem(ABC):
    """A benchmark problem: evaluate a configuration at a fidelity without training anything."""

    #: A unique name, used for caches and result files (e.g. ``lcbench-3945``).
    name: str
    #: The family the CLI names it by (e.g. ``lcbench``).
    family: str = ""
    space: Space
    objectives: tuple[Objective, ...]
    #: The known minimum of the first objective at full fidelity, where the literature gives one.
    optimum: float | None = None

    @property
    def max_fidelity(self) -> float:
        """The fidelity of one full run (the cost of one FTE)."""
        fidelity = self.space.fidelity
        assert fidelity is not None, f"problem {self.name} has no fidelity"
        return float(fidelity.upper)

    @property
    def min_fidelity(self) -> float:
        fidelity = self.space.fidelity
        assert fidelity is not None, f"problem {self.name} has no fidelity"
        return float(fidelity.lower)

    @property
    def primary(self) -> Objective:
        """The objective that targets and regret are measured on."""
        return self.objectives[0]

    def effective_fidelity(self, fidelity: float | None) -> float:
        """The fidelity actually trained for a requested one: whole epochs, within the range.

        Costs are charged on this value, so a request for 1.9 epochs costs what 2 epochs cost.
        """
        if fidelity is None:
            return self.max_fidelity
        f = float(fidelity)
        if not math.isfinite(f):
            raise ValueError(f"{self.name}: fidelity must be finite, got {fidelity!r}")
        fid = self.space.fidelity
        if fid is not None and fid.is_int:
            f = float(round(f))
        return float(min(self.max_fidelity, max(self.min_fidelity, f)))

    @abstractmethod
    def evaluate_batch(
        self, configs: Sequence[Mapping[str, Any]], fidelity: float | np.ndarray, seed: int = 0
    ) -> dict[str, np.ndarray]:
        """Metrics of many configurations (each at ``fidelity``, a scalar or one per config), as arrays."""

    def evaluate(self, config: Mapping[str, Any], fidelity: float, seed: int = 0) -> dict[str, float]:
        """The metrics of one configuration at one fidelity (the learning-curve value there)."""
        out = self.evaluate_batch([config], self.effective_fidelity(fidelity), seed)
        return {k: float(v[0]) for k, v in out.items()}

    def steps(self, up_to: float) -> np.ndarray:
        """The fidelities at which a learning curve up to ``up_to`` is observed (whole steps)."""
        top = self.effective_fidelity(up_to)
        return np.arange(self.min_fidelity, top + 1e-9, 1.0)

    def curve(self, config: Mapping[str, Any], up_to: float, seed: int = 0) -> dict[str, np.ndarray]:
        """The learning curve of one configuration at every step up to ``up_to`` (one vectorized call).

        The result holds ``fidelity`` (the steps) and one array per metric; the curve up to a
        smaller fidelity is a prefix of this one.
        """
        steps = self.steps(up_to)
        out = self.evaluate_batch([config] * len(steps), steps, seed)
        return {"fidelity": steps, **out}

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the problem's values: a cached target is reused only when this matches."""
        return {
            "name": self.name,
            "space": self.space.to_dict(),
            "objectives": [o.to_dict() for o in self.objectives],
            **self.settings(),
        }

    def settings(self) -> dict[str, Any]:
        """The problem's own knobs (noise, task), for the fingerprint and result files."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def as_fidelity_array(fidelity: float | np.ndarray, n: int) -> np.ndarray:
    """One fidelity per configuration, from a scalar or an array of length ``n``."""
    f = np.asarray(fidelity, dtype=float)
    if f.ndim == 0:
        return np.full(n, float(f))
    if f.shape != (n,):
        raise ValueError(f"expected one fidelity per configuration ({n}), got shape {f.shape}")
    return f
