"""The runner records every epoch a trial trains as a curve point, and optimizers that ignore curves decide as before."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from benchmarks.problems.synthetic import Hartmann6
from benchmarks.runner import curve_points, simulate
from metaml.core.records import Proposal
from metaml.core.view import StudyView
from metaml.errors import MetamlError
from metaml.objectives import Objective
from metaml.optimizers import Optimizer, make_optimizer
from metaml.space import Space

X = {f"x{i}": 0.1 * i for i in range(1, 7)}


class Recorder(Optimizer):
    """Trains X to 3, continues it to 7, starts it again to 2; keeps every view it was shown."""

    name = "recorder-test"

    def __init__(self, space: Space, objectives: Sequence[Objective], seed: int = 0) -> None:
        super().__init__(space, objectives, seed)
        self.views: list[StudyView] = []

    def propose(self, view: StudyView) -> Proposal | None:
        self.views.append(view)
        script = [(3, None), (7, 0), (2, None)]
        fidelity, parent = script[min(len(view.trials), len(script) - 1)]
        return Proposal(dict(X), fidelity, parent)


def test_a_fresh_trial_reports_steps_1_to_f_and_a_continuation_only_the_steps_it_trained() -> None:
    problem = Hartmann6()
    recorder = Recorder(problem.space, problem.objectives)
    _, history, _ = simulate(problem, recorder, seed=0, budget_fte=12 / 27)
    view = recorder.views[-1]
    assert [o.step for o in view.curve(0)] == [1.0, 2.0, 3.0]
    assert [o.step for o in view.curve(1)] == [4.0, 5.0, 6.0, 7.0]
    assert [o.step for o in view.curve(2)] == [1.0, 2.0]
    for trial in history[:3]:
        assert view.curve(trial.number)[-1].metrics == trial.metrics  # the last point is the trial's result
    # the curve is the problem's: a continuation's points are where the direct run to 7 passes
    direct = problem.curve(X, 7, 0)["loss"]
    assert [o.metrics["loss"] for o in (*view.curve(0), *view.curve(1))] == pytest.approx(list(direct))


@pytest.mark.parametrize("name", ["hyperband", "asha", "priorband", "one_epoch"])
def test_optimizers_that_ignore_curves_decide_the_same_with_them(name: str) -> None:
    problem = Hartmann6()
    _, history, _ = simulate(problem, name, seed=1, budget_fte=4.0)
    points = [o for t in history for o in curve_points(problem, t, 1)]
    for k in range(0, len(history), 7):
        seen = history[:k]
        bare = make_optimizer(name, problem.space, problem.objectives, 1).propose(StudyView.of(seen))
        numbers = {t.number for t in seen}
        with_curves = StudyView.of(seen, [o for o in points if o.trial_number in numbers])
        assert make_optimizer(name, problem.space, problem.objectives, 1).propose(with_curves) == bare


def test_an_optimizer_name_may_carry_its_settings() -> None:
    from benchmarks.runner import optimizer_spec

    assert optimizer_spec("freeze_thaw") == "freeze_thaw"
    assert optimizer_spec("freeze_thaw@min_fidelity=1+acquisition=next") == {
        "name": "freeze_thaw", "min_fidelity": 1, "acquisition": "next"}
    with pytest.raises(MetamlError, match="KEY=VALUE"):
        optimizer_spec("freeze_thaw@min_fidelity")
