"""Synthetic multi-fidelity problems with known optima: Branin, Hartmann-6, and two-objective ZDT1.

Each takes a fidelity-correlation knob: ``bias`` distorts the function at low fidelity and
``noise`` adds |N(0, 1)|-scaled noise there; both fade linearly in the log-scaled fidelity
``s = log(f / f_min) / log(f_max / f_min)`` and vanish at full fidelity, where the function
is the textbook one. The forms follow the literature: Branin's fidelity shifts of its
coefficients as in Kandasamy et al. (2017, BOCA), Hartmann's flattening of its weights
``alpha`` and its fidelity noise as in mf-prior-bench (Mallik et al., 2023, PriorBand), and
ZDT1 (Zitzler, Deb & Thiele, 2000) whose Pareto front is ``f2 = 1 - sqrt(f1)``.

Noise is a deterministic function of (config, fidelity, seed), so a curve stays a prefix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from benchmarks.problems.base import Problem, as_fidelity_array
from metaml.objectives import Objective
from metaml.space import Fidelity, Float, Space

#: Named settings of the fidelity-correlation knob, per family: (bias, noise).
#: Hartmann's are mf-prior-bench's; the others are set so that the Spearman correlation between
#: the lowest and the full fidelity is close to Hartmann's (about 0.85, 0.6, 0.1, below 0 over
#: 2,000 uniform configs). ``bias=1, noise=0`` gives Branin exactly as Kandasamy et al. (2017).
CORRELATION: dict[str, dict[str, tuple[float, float]]] = {
    "branin": {"good": (5.0, 20.0), "moderate": (10.0, 40.0), "bad": (20.0, 100.0), "terrible": (40.0, 300.0)},
    "hartmann6": {"good": (0.5, 0.1), "moderate": (1.0, 0.2), "bad": (2.0, 0.4), "terrible": (4.0, 0.8)},
    "zdt1": {"good": (1.0, 0.5), "moderate": (2.0, 2.0), "bad": (8.0, 10.0), "terrible": (20.0, 30.0)},
}

_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
H6_ARGMIN = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
H6_MIN = -3.32237
BRANIN_ARGMIN = ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475))
BRANIN_MIN = 0.397887


class SyntheticProblem(Problem):
    """Common parts: the knob, the log-scaled fidelity, and deterministic fidelity noise."""

    #: The names of the inputs, in the order the function takes them.
    inputs: tuple[str, ...]

    def __init__(self, correlation: str = "good", max_fidelity: int = 27, bias: float | None = None,
                 noise: float | None = None) -> None:
        presets = CORRELATION[self.family]
        if correlation not in presets:
            raise ValueError(f"{self.family}: correlation must be one of {', '.join(presets)}, not {correlation!r}")
        preset_bias, preset_noise = presets[correlation]
        self.correlation = correlation
        self.bias = preset_bias if bias is None else float(bias)
        self.noise = preset_noise if noise is None else float(noise)
        self.space = Space({**self._parameters(), "epoch": Fidelity(1, int(max_fidelity))})
        custom = bias is not None or noise is not None
        self.name = f"{self.family}-{correlation}" + (f"-b{self.bias:g}-n{self.noise:g}" if custom else "")

    def _parameters(self) -> dict[str, Float]:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        return {"correlation": self.correlation, "bias": self.bias, "noise": self.noise}

    def scaled(self, fidelity: np.ndarray) -> np.ndarray:
        """The fidelity as s in [0, 1], log-scaled: 0 at the lowest fidelity, 1 at a full run."""
        lo, hi = math.log(self.min_fidelity), math.log(self.max_fidelity)
        return np.clip((np.log(fidelity) - lo) / (hi - lo), 0.0, 1.0)

    def matrix(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return np.array([[float(c[name]) for name in self.inputs] for c in configs], dtype=float).reshape(
            len(configs), len(self.inputs)
        )

    def fidelity_noise(self, x: np.ndarray, fidelity: np.ndarray, seed: int) -> np.ndarray:
        """|N(0, 1)| draws, one per row, fixed by (row values, fidelity, seed) alone."""
        if self.noise == 0.0:
            return np.zeros(len(x))
        out = np.empty(len(x))
        for i, (row, f) in enumerate(zip(x, fidelity, strict=True)):
            key = np.frombuffer(np.round(row, 12).tobytes(), dtype=np.uint32)
            rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(round(f * 1000)), *key.tolist()])
            out[i] = abs(rng.standard_normal())
        return out


class Branin(SyntheticProblem):
    """Multi-fidelity Branin on [-5, 10] x [0, 15]; minimum 0.397887 at three points."""

    family = "branin"
    inputs = ("x1", "x2")
    optimum = BRANIN_MIN
    objectives = (Objective("loss", "min"),)

    def _parameters(self) -> dict[str, Float]:
        return {"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)}

    def evaluate_batch(
        self, configs: Sequence[Mapping[str, Any]], fidelity: float | np.ndarray, seed: int = 0
    ) -> dict[str, np.ndarray]:
        x = self.matrix(configs)
        f = as_fidelity_array(fidelity, len(x))
        gap = 1.0 - self.scaled(f)  # 0 at full fidelity
        x1, x2 = x[:, 0], x[:, 1]
        b = 5.1 / (4 * math.pi**2) - 0.01 * self.bias * gap
        c = 5 / math.pi - 0.1 * self.bias * gap
        t = 1 / (8 * math.pi) + 0.05 * self.bias * gap
        value = (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10
        value = value + self.noise * gap * self.fidelity_noise(x, f, seed)
        return {"loss": value}


class Hartmann6(SyntheticProblem):
    """Multi-fidelity Hartmann-6 on [0, 1]^6; minimum -3.32237."""

    family = "hartmann6"
    inputs = tuple(f"x{i}" for i in range(1, 7))
    optimum = H6_MIN
    objectives = (Objective("loss", "min"),)

    def _parameters(self) -> dict[str, Float]:
        return {name: Float(0.0, 1.0) for name in self.inputs}

    def evaluate_batch(
        self, configs: Sequence[Mapping[str, Any]], fidelity: float | np.ndarray, seed: int = 0
    ) -> dict[str, np.ndarray]:
        x = self.matrix(configs)
        f = as_fidelity_array(fidelity, len(x))
        gap = 1.0 - self.scaled(f)
        inner = np.sum(_H6_A[None] * (x[:, None, :] - _H6_P[None]) ** 2, axis=-1)  # [n, 4]
        alpha = _H6_ALPHA[None, :] - self.bias * gap[:, None]  # flattens the function at low fidelity
        value = -np.sum(alpha * np.exp(-inner), axis=-1)
        value = value + self.noise * gap * self.fidelity_noise(x, f, seed)
        return {"loss": value}


class ZDT1(SyntheticProblem):
    """Two-objective ZDT1 on [0, 1]^d with a distorted, noisy ``f2`` at low fidelity.

    At full fidelity the Pareto front is ``f2 = 1 - sqrt(f1)`` for ``f1`` in [0, 1], reached
    where x2..xd are 0; its hypervolume against the reference point (1, 1) is 2/3.
    """

    family = "zdt1"
    objectives = (Objective("f1", "min"), Objective("f2", "min"))
    #: The reference point for hypervolume, and the front's hypervolume against it.
    reference = (1.0, 1.0)
    front_hypervolume = 2.0 / 3.0

    def __init__(self, correlation: str = "good", max_fidelity: int = 27, dims: int = 6,
                 bias: float | None = None, noise: float | None = None) -> None:
        if dims < 2:
            raise ValueError(f"zdt1 needs at least 2 dimensions, got {dims}")
        self.inputs = tuple(f"x{i}" for i in range(1, dims + 1))
        super().__init__(correlation, max_fidelity, bias, noise)

    def _parameters(self) -> dict[str, Float]:
        return {name: Float(0.0, 1.0) for name in self.inputs}

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "dims": len(self.inputs)}

    def evaluate_batch(
        self, configs: Sequence[Mapping[str, Any]], fidelity: float | np.ndarray, seed: int = 0
    ) -> dict[str, np.ndarray]:
        x = self.matrix(configs)
        f = as_fidelity_array(fidelity, len(x))
        gap = 1.0 - self.scaled(f)
        f1 = x[:, 0]
        g = 1.0 + 9.0 * x[:, 1:].mean(axis=1)
        f2 = g * (1.0 - np.sqrt(f1 / g))
        # The distortion favours other parts of the front at low fidelity than at full.
        f2 = f2 + gap * (self.bias * 0.5 * (1.0 + np.cos(2 * math.pi * f1)) + self.noise * self.fidelity_noise(x, f, seed))
        return {"f1": f1.copy(), "f2": f2}

    @staticmethod
    def true_front(n: int = 101) -> np.ndarray:
        """Points of the full-fidelity Pareto front, as rows (f1, f2)."""
        f1 = np.linspace(0.0, 1.0, n)
        return np.column_stack([f1, 1.0 - np.sqrt(f1)])
