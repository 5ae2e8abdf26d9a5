"""The optimizer contract: a pure function of (seed, study view) that proposes the next trials.

An optimizer reads a ``StudyView`` (every trial, every learning curve, every event, kept up to
date by the store's deltas) and keeps no state that the view does not hold, so that a study
resumed from its store, or an optimizer rebuilt in another worker, makes exactly the same
decisions. Caches are a speed-up only: the suite in ``metaml.testing.optimizers`` (a fresh optimizer
replaying the history decides the same) proves they change no decision.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from metaml.core.interventions import SPACE_ACTIONS
from metaml.core.records import Proposal, TrialRecord
from metaml.core.view import StudyView
from metaml.errors import SpaceError
from metaml.objectives import Objective, steer_limits
from metaml.space import Space
from metaml.space.steer import steer_space


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

    @staticmethod
    def stored(settings: Mapping[str, Any]) -> dict[str, Any]:
        """Settings stored by an earlier version, as this one reads them (a study resumes as it was made).

        A setting added since takes the value that keeps the old behaviour where that is not its
        default; the base class changes nothing.
        """
        return dict(settings)

    @property
    def first_objective_only(self) -> bool:
        """Whether the decisions rank trials on the first objective alone, so the others never steer.

        False for optimizers that weigh every objective (a Pareto ranking, a multi-objective
        acquisition) and for those that ignore the results (random search).
        """
        return False

    def ask(self, view: StudyView, n: int = 1) -> list[Proposal]:
        """Up to ``n`` trials to run next given the study as ``view`` shows it (pending and running included).

        Each proposal after the first is decided on the view with the earlier ones added as
        queued trials, exactly as if they had been asked for one by one. Fewer than ``n`` (or
        none) come back when the optimizer must wait for a running trial to end.
        """
        proposals: list[Proposal] = []
        for _ in range(max(0, int(n))):
            proposal = self.decide(view)
            if proposal is None:
                break
            proposals.append(proposal)
            view = view.with_pending(proposal)
        return proposals

    def decide(self, view: StudyView) -> Proposal | None:
        """The next trial as the experts steered the study: ``propose`` on the space and limits as of ``view``.

        With no intervention in the view this is ``propose(view)``. Otherwise an optimizer of
        the same kind and settings, built on the steered space and objectives (once per state
        of the interventions), proposes on the view of the trials that lie inside that space:
        a trial of a pinned-out choice is never promoted, and a model learns from the region
        still searched. Both follow from the view alone, so replay stays exact.
        """
        optimizer, inner = self.steered(view)
        return optimizer.propose(inner)

    def decide_stop(self, view: StudyView, trial: TrialRecord) -> str | None:
        """``should_stop`` as the experts steered the study; a trial outside the steered space runs on undisturbed."""
        optimizer, inner = self.steered(view)
        if optimizer is not self and inner.trial(trial.number) is not None:
            return optimizer.should_stop(inner, trial)
        return self.should_stop(view, trial)

    def steered(self, view: StudyView) -> tuple[Optimizer, StudyView]:
        """This optimizer as ``view``'s interventions steer it, and the view of the trials inside its space."""
        relevant = [i for i in view.interventions if i.action in SPACE_ACTIONS or i.action == "limit"]
        if not relevant:
            return self, view
        cache: dict[str, tuple[Optimizer, bool]] = self.__dict__.setdefault("_steered", {})
        key = json.dumps([i.data() for i in relevant], sort_keys=True, default=str)
        if key not in cache:
            space = steer_space(self.space, relevant)
            objectives = steer_limits(self.objectives, relevant)
            same_space = space == self.space
            if same_space and objectives == self.objectives:
                cache[key] = (self, True)
            else:
                cache[key] = (type(self)(space, objectives, self.seed, **self.settings), same_space)  # type: ignore[call-arg]
        built, same_space = cache[key]
        if built is self or same_space:
            return built, view
        return built, view.restricted(built._inside(view))

    def _inside(self, view: StudyView) -> frozenset[int]:
        """The numbers of the trials whose configuration lies in this optimizer's space (checked once per trial)."""
        seen: dict[int, tuple[dict[str, Any], bool]] = self.__dict__.setdefault("_inside_cache", {})
        inside = []
        for t in view.trials:
            known = seen.get(t.number)
            if known is None or known[0] != t.config:
                try:
                    self.space.validate(t.config)
                    ok = True
                except SpaceError:
                    ok = False
                known = seen[t.number] = (t.config, ok)
            if known[1]:
                inside.append(t.number)
        return frozenset(inside)

    @abstractmethod
    def propose(self, view: StudyView) -> Proposal | None:
        """The one next trial to run given the study as ``view`` shows it, or None to wait.

        ``view.trials`` are every trial so far, pending and running ones included;
        ``view.curve(number)`` a trial's learning curve.
        """

    def tell(self, trial: TrialRecord) -> None:  # noqa: B027 - a hook, empty on purpose
        """Hear that a trial finished; optimizers that cache a model may update it here."""

    def should_stop(self, view: StudyView, trial: TrialRecord) -> str | None:
        """Why a running trial should stop now, or None to let it go on (asked at each report).

        ``view.curve(trial.number)`` is the trial's own learning curve; ``view.others(...)``
        what the study's other trials reached at each step, for rung-based cuts.
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
