"""The optimizer contract: a pure function of (seed, history) that proposes the next trial.

Optimizers never run code and keep no state that the store does not hold: ``ask`` reads the
whole history each time, so that a study resumed from its store, or an optimizer rebuilt in
another worker, makes exactly the same decisions (see tests/optimizers/test_conformance.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from metaml.objectives import Objective
from metaml.space import Space
from metaml.store.records import Observation, Proposal, TrialRecord


class Optimizer(ABC):
    """Proposes trials from the history of a study."""

    #: The name used in YAML (``optimizer: {name: ...}``) and in the store.
    name: ClassVar[str]

    def __init__(self, space: Space, objectives: Sequence[Objective], seed: int = 0) -> None:
        self.space = space
        self.objectives = tuple(objectives)
        self.seed = int(seed)

    @property
    def settings(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this optimizer (stored with the study)."""
        return {}

    @property
    def first_objective_only(self) -> bool:
        """Whether the decisions rank trials on the first objective alone, so the others never steer.

        False for optimizers that weigh every objective (a Pareto ranking, a multi-objective
        acquisition) and for those that ignore the results (random search).
        """
        return False

    @abstractmethod
    def ask(self, history: Sequence[TrialRecord]) -> Proposal | None:
        """The next trial to run given every trial so far (pending and running ones included).

        Returns None when the optimizer has nothing to propose until a running trial ends.
        """

    def tell(self, trial: TrialRecord) -> None:  # noqa: B027 - a hook, empty on purpose
        """Hear that a trial finished; optimizers that cache a model may update it here."""

    def should_stop(
        self,
        trial: TrialRecord,
        curve: Sequence[Observation],
        history: Sequence[TrialRecord],
        others: Sequence[Observation] | None = None,
    ) -> str | None:
        """Why a running trial should stop now, or None to let it go on.

        ``curve`` is the trial's own learning curve; ``others`` the observations of the
        study's other trials (what they reached at each step), for rung-based cuts.
        """
        return None

    def rng(self, history: Sequence[TrialRecord], *salt: int) -> np.random.Generator:
        """A generator derived from the seed and the history's length: same history, same draws."""
        return np.random.default_rng([self.seed, len(history), *salt])

    @property
    def full_fidelity(self) -> float | None:
        """The fidelity of one full run, or None when the space has no fidelity."""
        f = self.space.fidelity
        return None if f is None else f.upper
