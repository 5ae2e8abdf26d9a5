"""Random search: uniform samples, or samples from the expert priors, at full fidelity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from metaml.core.records import Proposal
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers.base import Optimizer
from metaml.space import Space


class RandomSearch(Optimizer):
    """Draws each configuration independently; the baseline every other optimizer must beat."""

    name = "random"

    def __init__(
        self, space: Space, objectives: Sequence[Objective], seed: int = 0, sampler: str = "auto"
    ) -> None:
        super().__init__(space, objectives, seed)
        if sampler not in ("auto", "uniform", "prior"):
            raise OptimizerError(f"random: sampler must be auto, uniform or prior, not {sampler!r}")
        self.sampler = sampler

    @property
    def use_prior(self) -> bool:
        return self.sampler == "prior" or (self.sampler == "auto" and self.space.has_priors)

    @property
    def settings(self) -> dict[str, Any]:
        return {"sampler": self.sampler}

    def propose(self, view: StudyView) -> Proposal | None:
        history = view.trials
        config = self.space.sample(self.rng(history), use_prior=self.use_prior)
        how = "from the expert priors" if self.use_prior else "uniformly"
        return Proposal(config=config, fidelity=self.full_fidelity, reason=f"random sample drawn {how}")
