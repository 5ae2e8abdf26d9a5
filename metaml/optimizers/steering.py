"""Which objectives steer a study's search, said where a user looks: the run banner and the report.

A scheduler that promotes on the first objective alone (successive halving, Hyperband, ASHA,
PriorBand, BOHB) still records every objective and the front is still Pareto, but the
other objectives never decide which configurations train further: a fairness or latency
objective then shapes the front only by chance. The study is valid, so this is a warning,
not an error; ``single_objective_warning`` gives it from the optimizer alone, so that the
report, which reads only the store, derives it from the stored optimizer and objectives.
"""

from __future__ import annotations

from metaml.optimizers.auto import Auto
from metaml.optimizers.base import Optimizer

#: What to run instead: the Pareto-ranking scheduler that led docs/benchmarks.md's
#: multi-objective comparison, and Hyperband's Pareto twin.
PARETO_SCHEDULERS = ("moasha", "mohb")


def single_objective_warning(optimizer: Optimizer) -> str | None:
    """Why a multi-objective study's optimizer ignores all but its first objective, or None when it does not."""
    objectives = optimizer.objectives
    if len(objectives) < 2 or not optimizer.first_objective_only:
        return None
    name = f"auto (chose {optimizer.chosen})" if isinstance(optimizer, Auto) else optimizer.name
    others = ", ".join(o.name for o in objectives[1:])
    return (
        f"{name} ranks trials on the first objective ({objectives[0].name}) only, so {others} never "
        f"steer which configurations train further; for several objectives use {PARETO_SCHEDULERS[0]} "
        f"(or {PARETO_SCHEDULERS[1]}), which rank by Pareto front"
    )


__all__ = ["PARETO_SCHEDULERS", "single_objective_warning"]
