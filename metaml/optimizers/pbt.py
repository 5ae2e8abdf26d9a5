"""Population-based training (PBT, Jaderberg et al. 2017) on the checkpoints metaml already keeps.

``population`` members train in intervals of ``interval`` fidelity steps; each interval is one
trial. When a generation has finished, the bottom ``fraction`` of the members (and every
member that failed or gave NaN) *exploit*: the next trial continues the checkpoint of a top
member, drawn at random from the top ``fraction``, with that member's configuration and its
schedulable values *explored* (perturbed by a factor or resampled, ``metaml.optimizers.explore``).
The others continue their own checkpoint unchanged. A continued trial is charged only for
the steps it trains (its fidelity minus the step of the checkpoint it continues). Once the
last generation reaches the full fidelity, a new round starts a fresh population, so a
budget larger than one population's run is used too.

Only parameters marked ``schedulable`` change; everything else a member inherits from the
member it copies, so its checkpoint fits. See docs/concepts.md ("Population-based training").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from metaml.core.records import Proposal, TrialRecord
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers.base import Optimizer
from metaml.optimizers.explore import explore
from metaml.optimizers.population import (
    CONTINUE,
    EXPLOIT,
    INITIAL,
    REPLACE,
    RESTART,
    Place,
    generation,
    members,
    place_info,
    quantile,
    ranked,
    score,
    usable,
)
from metaml.space import Space


class PBT(Optimizer):
    """Population-based training: exploit the top members' checkpoints, explore their schedulable values."""

    name = "pbt"

    def __init__(
        self,
        space: Space,
        objectives: Sequence[Objective],
        seed: int = 0,
        population: int = 8,
        interval: float | None = None,
        fraction: float = 0.25,
        factors: Sequence[float] = (0.8, 1.25),
        resample_probability: float = 0.25,
    ) -> None:
        super().__init__(space, objectives, seed)
        fid = space.fidelity
        if fid is None:
            raise OptimizerError(
                f"{self.name} trains in intervals of the fidelity: the space needs one "
                "(e.g. epochs: {type: fidelity, lower: 1, upper: 30})"
            )
        if isinstance(population, bool) or not isinstance(population, int) or population < 2:
            raise OptimizerError(f"{self.name}: population must be a whole number >= 2 (members to compare), got {population!r}")
        full = float(fid.upper)
        if interval is None:
            interval = max(float(fid.lower), full / 9)
            interval = float(max(1, round(interval))) if fid.is_int else interval
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 < interval <= full:
            raise OptimizerError(f"{self.name}: interval must be a number of fidelity steps in (0, {full:g}], got {interval!r}")
        if fid.is_int and float(interval) != int(interval):
            raise OptimizerError(f"{self.name}: interval must be a whole number for the integer fidelity, got {interval!r}")
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 0.5:
            raise OptimizerError(f"{self.name}: fraction (the top and bottom share) must be in (0, 0.5], got {fraction!r}")
        if isinstance(factors, (str, bytes)) or not isinstance(factors, Sequence) or not factors or not all(
            isinstance(f, (int, float)) and not isinstance(f, bool) and math.isfinite(f) and f > 0 for f in factors
        ):
            raise OptimizerError(f"{self.name}: factors must be a list of perturbation factors > 0 (e.g. [0.8, 1.25]), got {factors!r}")
        if isinstance(resample_probability, bool) or not isinstance(resample_probability, (int, float)) or not (
            0 <= resample_probability <= 1
        ):
            raise OptimizerError(f"{self.name}: resample_probability must be in [0, 1], got {resample_probability!r}")
        self.schedulable = check_schedulable(space, self.name)
        self.population, self.fraction = population, float(fraction)
        self.interval = int(interval) if fid.is_int else float(interval)
        self.factors = tuple(float(f) for f in factors)
        self.resample_probability = float(resample_probability)
        self.generations = int(math.ceil(full / float(self.interval) - 1e-9))

    @property
    def settings(self) -> dict[str, Any]:
        return {
            "population": self.population, "interval": self.interval, "fraction": self.fraction,
            "factors": list(self.factors), "resample_probability": self.resample_probability,
        }  # fmt: skip

    @property
    def first_objective_only(self) -> bool:
        """True: members are ranked on the first objective."""
        return True

    def fidelity_of(self, gen: int) -> float:
        """The step generation ``gen`` trains up to (the last one: the full fidelity)."""
        full = self.full_fidelity
        assert full is not None
        value = min(float(full), (gen + 1) * float(self.interval))
        return int(value) if float(value).is_integer() else value

    # ---------------------------------------------------------------- proposals
    def propose(self, view: StudyView) -> Proposal | None:
        placed = members(view.trials)
        if not placed:
            return self.initial(0, 0)
        round_ = max(p.round for p, _ in placed)
        gen = max(p.generation for p, _ in placed if p.round == round_)
        current = generation(placed, round_, gen)
        missing = [m for m in range(self.population) if m not in current]
        if missing:
            if gen == 0:
                return self.initial(round_, missing[0])
            return self.next_trial(round_, gen, missing[0], generation(placed, round_, gen - 1), view)
        if not all(t.status.finished for t in current.values()):
            return None  # synchronous: the next generation is decided on all of this one
        if gen + 1 >= self.generations:
            return self.initial(round_ + 1, 0)
        return self.next_trial(round_, gen + 1, 0, current, view)

    def initial(self, round_: int, member: int) -> Proposal:
        """A fresh member: its configuration drawn from the space (from its priors where it has them)."""
        rng = np.random.default_rng([self.seed, round_, member, 0])
        config = self.space.sample(rng, use_prior=self.space.has_priors and member > 0)
        if member == 0 and self.space.has_priors:
            config = self.space.default()  # the expert's configuration is a member of the population
        place = Place(round_, member, 0, INITIAL)
        return Proposal(
            config=config,
            fidelity=self.fidelity_of(0),
            reason=f"round {round_}: initial member {member} of {self.population}, trains to {self.fidelity_of(0):g}",
            info=place_info(place),
        )

    def next_trial(
        self, round_: int, gen: int, member: int, previous: Mapping[int, TrialRecord], view: StudyView
    ) -> Proposal:
        """Member ``member``'s trial of generation ``gen``, decided on the finished generation ``previous``."""
        order = ranked(previous, self.objectives)
        k = quantile(self.population, self.fraction)
        top, bottom = order[:k], order[-k:]
        own = previous.get(member)
        rng = np.random.default_rng([self.seed, round_, member, gen])
        fidelity = self.fidelity_of(gen)
        if own is not None and usable(own, self.objectives) and member not in bottom:
            place = Place(round_, member, gen, CONTINUE)
            return Proposal(
                config=dict(own.config), fidelity=fidelity, continue_from=own.number,
                reason=(f"round {round_} generation {gen}: member {member} (rank {order.index(member) + 1} of "
                        f"{len(order)}) continues its trial {own.number} to {fidelity:g}"),
                info=place_info(place, parent=own.number, source=member),
            )  # fmt: skip
        sources = [m for m in top if m != member and usable(previous[m], self.objectives)]
        if not sources:  # every top member failed: nothing to copy, start the member again
            config = self.space.sample(rng)
            place = Place(round_, member, gen, RESTART)
            return Proposal(
                config=config, fidelity=fidelity,
                reason=(f"round {round_} generation {gen}: member {member} restarts from scratch with a fresh "
                        "configuration: no top member finished its interval to copy"),
                info=place_info(place),
            )  # fmt: skip
        source = sources[int(rng.integers(len(sources)))]
        parent = previous[source]
        config, changes, how = self.explore_values(parent, member, gen, round_, rng, view)
        failed = own is None or not usable(own, self.objectives)
        action = REPLACE if failed else EXPLOIT
        if own is None:
            why = "it has no trial in the last generation"
        elif failed:
            why = f"its trial {own.number} {own.status.value} without a finite result, so it is replaced"
        else:
            why = f"rank {order.index(member) + 1} of {len(order)}, in the bottom {k}"
        place = Place(round_, member, gen, action)
        return Proposal(
            config=config, fidelity=fidelity, continue_from=parent.number,
            reason=(f"round {round_} generation {gen}: member {member} ({why}) {'exploits' if action == EXPLOIT else 'copies'} member {source} "
                    f"(rank {order.index(source) + 1}, loss {score(parent, self.objectives):.4g}): continues its "
                    f"trial {parent.number} to {fidelity:g}, {how} {_changes(changes)}"),
            info=place_info(place, parent=parent.number, source=source, replaced=None if own is None else own.number,
                            explore=changes),
        )  # fmt: skip

    def explore_values(
        self, parent: TrialRecord, member: int, gen: int, round_: int, rng: np.random.Generator, view: StudyView
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]], str]:
        """The parent's configuration with new schedulable values, what changed, and how they were chosen."""
        config, changes = explore(self.space, parent.config, rng, self.factors, self.resample_probability)
        return config, changes, "explored"


def check_schedulable(space: Space, who: str) -> tuple[str, ...]:
    """The space's schedulable parameters; refused when there are none, or when one switches others on or off."""
    names = space.schedulable
    if not names:
        raise OptimizerError(
            f"{who} changes schedulable parameters between intervals, and the space has none: mark the ones that "
            "may change during a run with schedulable: true (e.g. lr: {type: float, lower: 1e-4, upper: 0.1, "
            "log: true, schedulable: true})"
        )
    for name in names:
        children = sorted(n for n, conds in space.conditions.items() if name in conds)
        if children:
            raise OptimizerError(
                f"{who}: the schedulable parameter {name!r} decides whether {', '.join(children)} "
                "are active, so changing it mid-run would change what the run is; make it not schedulable"
            )
    return names


def _changes(changes: Mapping[str, Mapping[str, Any]]) -> str:
    return ", ".join(f"{n} {_short(c['from'])} -> {_short(c['to'])} ({c['how']})" for n, c in changes.items()) or "nothing"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
