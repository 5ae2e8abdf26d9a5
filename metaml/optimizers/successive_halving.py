"""Synchronous successive halving (Jamieson & Talwalkar 2016; Li et al. 2017).

A bracket starts ``n`` configurations at the bottom rung; once *every* trial of a rung has
finished, the best ``1/eta`` continue from their checkpoints at the next rung, up to the
full fidelity. Waiting for the whole rung is what makes the ranking fair (every config is
judged against all its peers) and what makes it synchronous: with trials still running and
nothing to promote, ``ask`` returns None rather than start configurations the bracket has
no room for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from metaml.core.records import Proposal, TrialRecord
from metaml.core.view import StudyView
from metaml.optimizers.multifidelity import MultiFidelityOptimizer
from metaml.optimizers.rungs import BracketPlan, by_bracket, by_rung, continued, promotable

#: What a bracket needs next when it cannot propose: running trials to end, or nothing at all.
Waiting = Literal["wait", "done"]


class SuccessiveHalving(MultiFidelityOptimizer):
    """One successive-halving bracket from the bottom of the ladder, run again each time it ends.

    The bracket is Hyperband's most exploratory one: ``eta**s_max`` configurations at the
    lowest fidelity, one of them reaching the full fidelity. A finished bracket is followed
    by a fresh one (bracket numbers 0, 1, 2, ... in ``info``) so that the study's budget,
    not the scheduler, decides when to stop; brackets never overlap.
    """

    name = "successive_halving"
    #: Whether a new bracket may start while the open ones wait on running trials.
    overlap_brackets = False

    def plan(self, bracket: int) -> BracketPlan:
        """The shape of bracket number ``bracket``."""
        return self.brackets[0]

    def propose(self, view: StudyView) -> Proposal | None:
        history = view.trials
        brackets = by_bracket(history)
        waiting = False
        for number in sorted(brackets):
            step = self.bracket_step(history, number, brackets[number])
            if isinstance(step, Proposal):
                return step
            waiting = waiting or step == "wait"
        if waiting and not self.overlap_brackets:
            return None
        number = max(brackets, default=-1) + 1
        return self.start(history, number)

    def start(self, history: Sequence[TrialRecord], bracket: int) -> Proposal:
        plan = self.plan(bracket)
        return self.new_config(history, plan.base, bracket, self._where(plan, bracket, 0))

    def _where(self, plan: BracketPlan, bracket: int, started: int) -> str:
        return f"bracket {bracket}, {started + 1} of {plan.count(plan.base)} at its bottom rung"

    def bracket_step(self, history: Sequence[TrialRecord], bracket: int, trials: Sequence[TrialRecord]) -> Proposal | Waiting:
        """The bracket's next proposal, or why it has none (``wait`` for running trials, or ``done``)."""
        plan = self.plan(bracket)
        rungs = by_rung(trials)
        bottom = rungs[plan.base]
        if len(bottom) < plan.count(plan.base):
            return self.new_config(history, plan.base, bracket, self._where(plan, bracket, len(bottom)))
        for rung in plan.rungs[:-1]:
            pool = rungs[rung]
            if not all(t.status.finished for t in pool):
                return "wait"
            ranked = self.rank(pool)
            # The best eligible ones take the next rung's places; a failure or a pruned trial gives its place up.
            chosen = [t for t in ranked if promotable(t, self.objectives)][: plan.count(rung + 1)]
            done = continued(rungs[rung + 1])
            for parent in chosen:
                if parent.number not in done:
                    return self.promotion(parent, rung + 1, pool, ranked.index(parent))
        return "done" if all(t.status.finished for t in rungs[plan.top]) else "wait"
