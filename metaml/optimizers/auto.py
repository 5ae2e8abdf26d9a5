"""``auto``: the optimizer the space and the objectives call for, chosen by a fixed rule and said why.

The rule (what docs/benchmarks.md measured, not a guess per study):

* a fidelity and one objective, with expert priors: ``priorband`` (it uses them and stays
  robust when they are wrong); without priors: ``freeze_thaw``, which on the 8 LCBench
  development tasks (10 seeds each, 30 FTE, ``python -m benchmarks.freeze_thaw``) reached the
  top-1% target at a median 6.1 FTE (74 of 80 runs, PAR2 11.8) against ``bohb``'s 8.6 (73 of
  80, PAR2 14.2), the top-0.1% target at 9.9 FTE (65 of 80) against 20.5 (51 of 80), had a
  first full-fidelity result at 1.3 FTE against 3.0 and a median regret at 5 FTE of 0.21
  against 0.31, and on the real tabular pipeline (5 seeds, 10 FTE) matched the default at
  2.0 FTE against 2.3; ``bohb`` was the choice before it; ``priorband`` where BoTorch is
  missing. (Neither ``freeze_thaw`` with priors against ``priorband`` nor several objectives
  against ``moasha`` has been measured, so those choices stay.)
* a fidelity and several objectives: ``moasha`` (ASHA promoting each rung's Pareto-best),
  whose median hypervolume beat ``mohb``'s in 8 of 9 (problem, checkpoint) cells of
  ``python -m benchmarks.multiobjective`` (ZDT1 and lcbench-mo 3945, 34539; 5, 10, 30 FTE);
* no fidelity: ``bo`` (GP Bayesian optimization, qLogNEHVI for several objectives), or
  ``random`` where BoTorch is missing or nothing can be searched.

* a study warm-started from earlier studies (``warm_start``), with a fidelity and one objective:
  ``transfer`` over ``freeze_thaw``. On LCBench leave-one-task-out (10 seeds, 30 FTE, ``python -m
  benchmarks.transfer``) it reached the top-1% target in 80 of 80 runs, median 1.38 FTE, PAR2
  3.17, against ``freeze_thaw`` alone 73 of 80, 6.87 and 13.34 and ``bohb`` 72 of 80, 8.58 and
  14.84; with deliberately scrambled earlier studies, 80 of 80, 2.84 and 4.41.

The choice is a function of the space, the objectives and whether the study is warm-started,
so ``auto`` is as pure as the optimizer it wraps; it is stored in the settings (``chosen`` and ``why``) and prefixed
to every proposal's reason, so that the report shows what ran and why.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from metaml.core.records import Proposal, TrialRecord
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers.base import Optimizer
from metaml.space import Space

#: What ``auto`` may run.
CHOICES = ("priorband", "freeze_thaw", "bohb", "moasha", "mohb", "bo", "random", "transfer")
#: The base ``transfer`` runs when ``auto`` picks it for a warm-started study (docs/benchmarks.md, transfer).
TRANSFER_BASE = "freeze_thaw"


def choose(space: Space, objectives: Sequence[Objective], warm_start: bool = False) -> tuple[str, str]:
    """(optimizer name, why) for a space and its objectives (and whether earlier studies warm-start it)."""
    several = len(objectives) > 1
    if warm_start and space.fidelity is not None and not several and space.n_dims > 0 and (
            importlib.util.find_spec("botorch") is not None):
        return "transfer", (
            f"the study is warm-started from earlier studies, with a fidelity ({space.fidelity_name}) and one "
            f"objective: transfer over {TRANSFER_BASE} (a portfolio of the earlier bests at low fidelity, then "
            "RGPE-weighted model-level transfer): on LCBench leave-one-task-out it needed a median 1.38 FTE to a "
            "top-1% configuration against 6.87 for freeze_thaw alone and 8.58 for bohb (docs/benchmarks.md)"
        )
    botorch = importlib.util.find_spec("botorch") is not None and space.n_dims > 0
    if space.fidelity is not None:
        if several:
            return "moasha", (
                f"the space has a fidelity ({space.fidelity_name}) and {len(objectives)} objectives: "
                "ASHA with Pareto ranking led the multi-objective benchmark"
            )
        where = f"the space has a fidelity ({space.fidelity_name}) and one objective"
        if space.has_priors:
            return "priorband", f"{where}, with expert priors: PriorBand uses them and stays robust when they are wrong"
        if not botorch:
            return "priorband", f"{where}, without expert priors; BoTorch is not installed for freeze-thaw's model"
        return "freeze_thaw", (
            f"{where}, without expert priors: freeze-thaw (a learning-curve GP deciding step by step which run "
            "to continue) reached the LCBench top-1% target at a median 6.1 FTE against BOHB's 8.6 "
            "(8 tasks x 10 seeds, 30 FTE), with a first full-fidelity result at 1.3 FTE"
        )
    if space.n_dims == 0:
        return "random", "the space has nothing to search"
    if not botorch:
        return "random", "no fidelity, and BoTorch is not installed for Bayesian optimization"
    what = f"{len(objectives)} objectives (qLogNEHVI)" if several else "one objective (qLogNEI)"
    return "bo", f"the space has no fidelity: GP Bayesian optimization at full cost, {what}"


class Auto(Optimizer):
    """Runs the optimizer ``choose`` picks for the space and objectives; settings record the choice."""

    name = "auto"

    def __init__(
        self,
        space: Space,
        objectives: Sequence[Objective],
        seed: int = 0,
        chosen: str | None = None,
        why: str | None = None,
        warm_start: bool = False,
    ) -> None:
        super().__init__(space, objectives, seed)
        self.warm_start = bool(warm_start)
        picked, reason = choose(space, self.objectives, self.warm_start)
        if chosen is None:
            chosen, why = picked, reason
        elif chosen not in CHOICES:
            raise OptimizerError(f"auto: chosen must be one of {', '.join(CHOICES)}, got {chosen!r}")
        elif why is None:
            why = reason if chosen == picked else "named in the settings"
        from metaml.optimizers.registry import make_optimizer  # late: the registry imports this module

        self.chosen, self.why = chosen, str(why)
        spec: Any = {"name": "transfer", "base": TRANSFER_BASE} if chosen == "transfer" else chosen
        self.inner = make_optimizer(spec, space, self.objectives, seed)

    @property
    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"chosen": self.chosen, "why": self.why}
        if self.warm_start:
            out["warm_start"] = True
        return out

    @property
    def full_fidelity(self) -> float | None:
        return self.inner.full_fidelity

    @property
    def first_objective_only(self) -> bool:
        return self.inner.first_objective_only

    def propose(self, view: StudyView) -> Proposal | None:
        proposal = self.inner.propose(view)
        if proposal is None:
            return None
        return replace(proposal, reason=f"auto chose {self.chosen}: {proposal.reason}")

    def tell(self, trial: TrialRecord) -> None:
        self.inner.tell(trial)

    def should_stop(self, view: StudyView, trial: TrialRecord) -> str | None:
        return self.inner.should_stop(view, trial)
