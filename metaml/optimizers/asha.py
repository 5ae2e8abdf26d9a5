"""Asynchronous successive halving (ASHA, Li et al. 2020): promote as soon as a trial earns it.

Promotion variant (default): on each ``ask``, from the highest rung down, a finished trial
that ranks in the top ``1/eta`` of the *finished* trials of its rung and has not been
promoted yet continues at the next rung; otherwise a new configuration starts at the
bottom. ASHA never waits: a worker always gets something to do, at the price of promoting
on fewer peers than synchronous halving would.

Stopping variant (``stopping=True``): every configuration is started at full fidelity, and
``should_stop`` ends it when its learning curve, at a rung's step, is not in the top
``1/eta`` of the values the other trials reported at that step.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from metaml.core.records import Observation, Proposal, TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers.multifidelity import MultiFidelityOptimizer, SamplerSpec
from metaml.optimizers.rungs import BRACKET, by_rung, continued, promotable, top_count
from metaml.space import Space

#: ``info`` key set on trials the stopping variant started (they run to full fidelity unless stopped).
STOPPING = "stopping"


class ASHA(MultiFidelityOptimizer):
    """Asynchronous successive halving, by promotion or (``stopping=True``) by early stopping."""

    name = "asha"

    def __init__(
        self,
        space: Space,
        objectives: Sequence[Objective],
        seed: int = 0,
        eta: float = 3,
        min_fidelity: float | None = None,
        max_fidelity: float | None = None,
        sampler: SamplerSpec = "auto",
        stopping: bool = False,
    ) -> None:
        super().__init__(space, objectives, seed, eta, min_fidelity, max_fidelity, sampler)
        if not isinstance(stopping, bool):
            raise OptimizerError(f"asha: stopping must be true or false, got {stopping!r}")
        self.stopping = stopping

    @property
    def settings(self) -> dict[str, Any]:
        return {**super().settings, "stopping": self.stopping}

    def propose(self, view: StudyView) -> Proposal | None:
        history = view.trials
        top = len(self.ladder) - 1
        if self.stopping:
            return self.new_config(history, top, 0, "to be stopped at a lower rung if it falls behind", **{STOPPING: True})
        rungs = by_rung(t for t in history if t.info.get(BRACKET) == 0 and not t.info.get(STOPPING))
        for rung in range(top - 1, -1, -1):
            pool = [t for t in rungs[rung] if t.status.finished]
            kept = top_count(len(pool), self.eta)
            ranked = self.rank(pool)
            done = continued(rungs[rung + 1])
            for position, parent in enumerate(ranked[:kept]):
                if parent.number not in done and promotable(parent, self.objectives):
                    return self.promotion(parent, rung + 1, pool, position)
        return self.new_config(history, 0, 0, "no trial is ready for promotion")

    # ---------------------------------------------------------------- stopping
    def should_stop(self, view: StudyView, trial: TrialRecord) -> str | None:
        """Why the trial stops at the rung its latest report crossed, or None to let it go on.

        Other trials' values at a rung come from their learning curves in the view. Where a
        trial has no curve, only what it *ended* at is known, from its final metrics: the
        decision then errs towards letting the trial go on.
        """
        if not self.stopping or not trial.info.get(STOPPING) or not self.objectives:
            return None
        curve, history, others = view.curve(trial.number), view.trials, view.others(trial.number)
        metric, sign = self.objectives[0].name, self.objectives[0].sign
        curves: dict[int, list[Observation]] = defaultdict(list)
        for obs in [*curve, *others]:
            if metric in obs.metrics and _finite(obs.metrics[metric]):
                curves[obs.trial_number].append(obs)
        own = curves.pop(trial.number, [])
        if not own:
            return None
        last, before = own[-1].step, max((o.step for o in own[:-1]), default=-math.inf)
        crossed = [j for j in range(len(self.ladder) - 1) if before < self.ladder[j] <= last]
        if not crossed:
            return None
        rung = max(crossed)
        step = self.ladder[rung]
        mine = sign * _value_at(own, step, metric)
        peers = [t for t in history if t.number != trial.number and t.info.get(STOPPING)]
        values = [v for t in peers if (v := self._reached(t, curves.get(t.number, []), step)) is not None]
        n = len(values) + 1
        if n < self.eta:
            return None  # too few peers to judge: promotion-ASHA would not promote on them either
        rank = 1 + sum(v < mine for v in values)
        kept = top_count(n, self.eta)
        if rank <= kept:
            return None
        return (
            f"stopped at rung {self.describe(rung)}: rank {rank} of {n} trials that reached it, "
            f"only the top 1/{self.eta:g} ({kept}) go on"
        )

    def _reached(self, record: TrialRecord, curve: Sequence[Observation], step: float) -> float | None:
        """A peer's loss at ``step``: from its curve, or from its final metrics if it ended right there."""
        metric, sign = self.objectives[0].name, self.objectives[0].sign
        if curve and max(o.step for o in curve) >= step:
            return sign * _value_at(curve, step, metric)
        ended = record.end_step
        value = (record.metrics or {}).get(metric)
        if record.status in (TrialStatus.COMPLETED, TrialStatus.PRUNED) and ended is not None and _finite(value):
            if math.isclose(ended, step):
                return sign * float(value)  # type: ignore[arg-type]
        return None


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _value_at(curve: Sequence[Observation], step: float, metric: str) -> float:
    """The value first reported at or after ``step`` (the caller made sure one was)."""
    reached = [o for o in curve if o.step >= step]
    first = min(reached, key=lambda o: o.step)
    return float(first.metrics[metric])
