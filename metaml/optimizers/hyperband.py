"""Hyperband (Li et al. 2017): successive halving over every trade-off of breadth and depth.

Bracket ``s`` starts about ``(s_max + 1) / (s + 1) * eta**s`` configurations at ladder
index ``s_max - s``; the brackets are run from the most exploratory (``s = s_max``, many
configs at the lowest fidelity) to plain random search at full fidelity (``s = 0``), and
then again, for as long as the budget lasts. Bracket number ``k`` in ``info`` has
``s = s_max - k mod (s_max + 1)``.

With parallel workers a bracket often waits on its running trials before it can promote.
Hyperband then starts the next bracket instead of leaving the worker idle (brackets are
independent, so nothing is lost); an older bracket's promotions still come first as soon
as they are ready. Run one trial at a time and the order is exactly Li et al.'s.
"""

from __future__ import annotations

from metaml.optimizers.rungs import BracketPlan
from metaml.optimizers.successive_halving import SuccessiveHalving


class Hyperband(SuccessiveHalving):
    """Successive halving cycling through all of Hyperband's brackets."""

    name = "hyperband"
    overlap_brackets = True

    def plan(self, bracket: int) -> BracketPlan:
        return self.brackets[bracket % len(self.brackets)]

    def _where(self, plan: BracketPlan, bracket: int, started: int) -> str:
        return (
            f"bracket {bracket} (s={plan.halvings}), {started + 1} of {plan.count(plan.base)} "
            f"at its bottom rung"
        )
