"""Samplers: how a multi-fidelity scheduler draws a new configuration for the bottom of a bracket.

Schedulers decide *when* to start a configuration and how far to train it; samplers decide
*which*. Keeping the two apart makes BOHB (Hyperband with a model-based sampler) and
PriorBand (Hyperband with a prior-aware sampler) compositions rather than new schedulers.
A sampler, like an optimizer, is a pure function of (history, rng): it keeps no state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from metaml.core.records import TrialRecord
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.space import Space

Ranker = Callable[[Sequence[TrialRecord]], list[TrialRecord]]


@dataclass(frozen=True)
class SampleContext:
    """What the scheduler tells a sampler about the draw: where it starts and how results rank."""

    objectives: tuple[Objective, ...]
    #: Rung fidelities, bottom up.
    ladder: tuple[float, ...]
    #: Ladder index the new configuration starts at.
    rung: int
    eta: float
    #: Configurations per rung of the most exploratory bracket (bottom up), for budget-based rules.
    bracket_counts: tuple[int, ...]
    #: Finished records best first (the scheduler's ranking, so multi-objective ranking plugs in once).
    rank: Ranker


class Sampler(ABC):
    """Draws one configuration from the space, given the history of the study."""

    #: The name used in settings (``sampler: priorband``).
    name: ClassVar[str]

    @property
    def settings(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this sampler (empty when all are defaults)."""
        return {}

    @property
    def spec(self) -> str | dict[str, Any]:
        """What a study stores to rebuild the sampler: its name, or a mapping with its settings."""
        return {"name": self.name, **self.settings} if self.settings else self.name

    @abstractmethod
    def sample(
        self,
        space: Space,
        history: Sequence[TrialRecord],
        rng: np.random.Generator,
        context: SampleContext | None = None,
    ) -> tuple[dict[str, Any], str]:
        """A configuration and a short reason for the audit log (how it was drawn)."""


class UniformSampler(Sampler):
    """Uniform over the space: the sampler of plain successive halving and Hyperband."""

    name = "uniform"

    def sample(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SampleContext | None = None
    ) -> tuple[dict[str, Any], str]:
        return space.sample(rng, use_prior=False), "drawn uniformly"


class PriorSampler(Sampler):
    """From the expert priors (uniform where a parameter has none)."""

    name = "prior"

    def sample(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SampleContext | None = None
    ) -> tuple[dict[str, Any], str]:
        return space.sample(rng, use_prior=True), "drawn from the expert priors"


#: Samplers by name. Those defined beside a scheduler (``priorband``, ``model``) register
#: themselves when their module is imported, which ``metaml.optimizers`` does for every one:
#: this module, which the schedulers import, never imports them (tests/test_layers.py).
_SAMPLERS: dict[str, Callable[..., Sampler]] = {
    UniformSampler.name: UniformSampler,
    PriorSampler.name: PriorSampler,
}


def register_sampler(name: str, factory: Callable[..., Sampler]) -> None:
    """Make ``factory(**settings)`` the sampler a spec names ``name`` (replacing one of that name)."""
    _SAMPLERS[name] = factory


def sampler_names() -> list[str]:
    return ["auto", *sorted(_SAMPLERS)]


def make_sampler(spec: str | Mapping[str, Any] | Sampler, space: Space) -> Sampler:
    """The sampler a spec names; ``auto`` is ``prior`` when the space has priors, else ``uniform``."""
    if isinstance(spec, Sampler):
        return spec
    if isinstance(spec, Mapping):
        settings = dict(spec)
        name = settings.pop("name", None)
    else:
        name, settings = spec, {}
    if name == "auto" and not settings:
        name = PriorSampler.name if space.has_priors else UniformSampler.name
    if not isinstance(name, str) or name not in _SAMPLERS:
        raise OptimizerError(f"unknown sampler {spec!r}; choose one of {', '.join(sampler_names())}")
    try:
        return _SAMPLERS[name](**settings)
    except TypeError as exc:
        raise OptimizerError(f"sampler {name!r}: {exc}") from None
