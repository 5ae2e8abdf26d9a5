"""The expert in the loop: pins, priors, narrowed ranges, limits, queued configurations and notes on a running study.

Each operation checks what it asks against the study as it stands (the space as steered so
far, the objectives), refuses with one line and writes nothing when it cannot apply, and
otherwise writes one ``intervention`` event with its author, time and reason. Nothing else
changes: decisions from then on read the event in their view (``Optimizer.decide``), the
front and the best re-rank with a new limit at once, and running trials go on undisturbed.
``Study`` mixes these methods in; ``metaml pin`` and its siblings call them.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from metaml.core.interventions import Intervention
from metaml.core.records import TrialRecord
from metaml.core.view import StudyView
from metaml.errors import MetamlError, ObjectiveError, SpaceError
from metaml.objectives import Objective, check_limit
from metaml.optimizers.base import Optimizer
from metaml.space import Space
from metaml.space.steer import check, steer_space

if TYPE_CHECKING:
    from metaml.store import SQLStore

log = logging.getLogger(__name__)


def default_author() -> str:
    """Who is at the keyboard (the login name), for an intervention that names no author."""
    try:
        return getpass.getuser() or "unknown"
    except (KeyError, OSError):  # no login name in a bare container
        return "unknown"


class Steerable:
    """The intervention methods of ``Study``: each writes one event, or refuses and writes nothing."""

    store: SQLStore
    id: int
    name: str
    space: Space
    base_objectives: tuple[Objective, ...]
    objectives: tuple[Objective, ...]
    optimizer: Optimizer

    def view(self) -> StudyView:  # provided by Study
        raise NotImplementedError

    def pareto_front(self) -> list[TrialRecord]:  # provided by Study
        raise NotImplementedError

    # ---------------------------------------------------------------- reading
    def interventions(self) -> tuple[Intervention, ...]:
        """Every intervention so far, oldest first (as of this process's latest view)."""
        return self.view().interventions

    @property
    def steered_space(self) -> Space:
        """The space the next decision searches: the study's own with the pins, ranges and priors so far."""
        return self.space_as_of(self.view())

    def space_as_of(self, view: StudyView) -> Space:
        """The space as steered by the interventions in ``view`` (computed once per state of them)."""
        key = tuple(i.event_id for i in view.interventions)
        cached: dict[tuple[int, ...], Space] = self.__dict__.setdefault("_steered_spaces", {})
        if key not in cached:
            cached[key] = steer_space(self.space, view.interventions)
        return cached[key]

    # ---------------------------------------------------------------- writing
    def pin(self, parameter: str, value: Any, *, author: str | None = None, reason: str = "") -> Intervention:
        """Fix ``parameter`` to ``value`` for the rest of the study (whenever it is active)."""
        return self._steer_space(Intervention("pin", parameter, value, author or default_author(), reason))

    def unpin(self, parameter: str, *, author: str | None = None, reason: str = "") -> Intervention:
        """Search ``parameter`` again (within any range it was narrowed to)."""
        return self._steer_space(Intervention("unpin", parameter, None, author or default_author(), reason))

    def prior(self, parameter: str, value: Any, confidence: str = "medium", *, author: str | None = None,
              reason: str = "") -> Intervention:
        """Set or change the expert prior of ``parameter`` (prior-aware optimizers sample around it)."""
        return self._steer_space(Intervention("prior", parameter, value, author or default_author(), reason,
                                              confidence=confidence))

    def narrow(self, parameter: str, low: Any, high: Any, *, author: str | None = None, reason: str = "") -> Intervention:
        """Shrink the range of a numeric ``parameter`` to [low, high] (inside the range it has now)."""
        return self._steer_space(Intervention("narrow", parameter, [low, high], author or default_author(), reason))

    def limit(self, objective: str, value: Any, *, op: str | None = None, author: str | None = None,
              reason: str = "") -> Intervention:
        """Set (or with ``value`` None, remove) the limit of ``objective``; the front and the best re-rank at once."""
        try:
            number = check_limit(self.objectives, objective, op, value)
        except ObjectiveError as exc:
            raise ObjectiveError(f"study {self.name!r}: {exc}") from None
        return self._write(Intervention("limit", objective, number, author or default_author(), reason))

    def note(self, text: str, trial: int | None = None, *, author: str | None = None) -> Intervention:
        """An auditor's annotation on the study (or on trial ``trial``); it changes no decision."""
        if not isinstance(text, str) or not text.strip():
            raise MetamlError("a note needs some text")
        if trial is not None and self.view().trial(int(trial)) is None:
            raise MetamlError(f"study {self.name!r} has no trial {trial}")
        return self._write(Intervention("note", None, text.strip(), author or default_author(),
                                        trial=None if trial is None else int(trial)))

    def choose(self, trial: int, *, author: str | None = None, reason: str = "") -> Intervention:
        """Record that front model ``trial`` is the trade-off chosen (``metaml choose --pick``); the model card shows it."""
        front = self.pareto_front()
        found = next((t for t in front if t.number == int(trial)), None)
        if found is None:
            numbers = ", ".join(str(t.number) for t in front) or "empty"
            raise MetamlError(f"trial {trial} of study {self.name!r} is not on the Pareto front, so it is no trade-off "
                              f"to choose; the front is {numbers}")
        metrics = {o.name: (found.metrics or {}).get(o.name) for o in self.objectives}
        return self._write(Intervention("choose", None, metrics, author or default_author(), reason, trial=found.number))

    def check_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` checked against the space as steered so far; the error says when a pin or range rules it out."""
        steered = self.steered_space
        try:
            return steered.validate(config)
        except SpaceError as exc:
            if steered is self.space:
                raise
            try:
                self.space.validate(config)
            except SpaceError:
                raise exc from None
            raise SpaceError(f"the configuration lies in the study's space but not in the space as steered so far "
                             f"(pins, narrowed ranges): {exc}") from None

    def record_enqueued(self, number: int, config: Mapping[str, Any], author: str, reason: str) -> Intervention:
        """Log that ``author`` queued trial ``number`` (``Study.enqueue`` with an author calls it)."""
        return self._write(Intervention("enqueue", None, dict(config), author, reason, trial=number))

    # ---------------------------------------------------------------- helpers
    def _steer_space(self, wanted: Intervention) -> Intervention:
        earlier = self.view().interventions
        try:
            checked = check(self.space, earlier, wanted)
        except SpaceError as exc:
            raise SpaceError(f"study {self.name!r}: {exc}") from None
        # the optimizer must still be able to run on the steered space (bo needs something to search)
        steered = steer_space(self.space, [*earlier, checked])
        opt = self.optimizer
        try:
            type(opt)(steered, opt.objectives, opt.seed, **opt.settings)
        except MetamlError as exc:
            raise SpaceError(f"study {self.name!r}: {checked.what()} would leave the optimizer nothing it can run: "
                             f"{exc}") from None
        return self._write(checked)

    def _write(self, intervention: Intervention) -> Intervention:
        message = intervention.describe()
        if intervention.action == "limit":
            o = {o.name: o for o in self.objectives}[str(intervention.target)]
            bound = "none" if intervention.value is None else f"{'<=' if o.goal == 'min' else '>='} {intervention.value:g}"
            message = f"limit {o.name} {bound} by {intervention.author}" + (
                f": {intervention.reason}" if intervention.reason else "")
        self.store.intervene(self.id, message, intervention.data(), intervention.trial)
        log.info("study %r: %s", self.name, message)
        self.view()  # this process's picture (and its objectives) take it in now
        return intervention


__all__ = ["Steerable", "default_author"]
