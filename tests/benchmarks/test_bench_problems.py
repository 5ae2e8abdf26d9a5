"""Every problem: a curve is a prefix of a longer one, evaluate agrees with the curve, fidelities round."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.problems import ProblemUnavailable, make_problems
from benchmarks.problems.base import Problem
from benchmarks.problems.synthetic import ZDT1, Branin, Hartmann6

SYNTHETIC = [Branin("bad"), Hartmann6("moderate"), ZDT1("bad")]


def _check_prefix(p: Problem, seed: int) -> None:
    rng = np.random.default_rng(4)
    config = p.space.sample(rng)
    short, long = p.curve(config, 10, seed), p.curve(config, p.max_fidelity, seed)
    assert list(short["fidelity"]) == list(range(1, 11))
    assert len(long["fidelity"]) == int(p.max_fidelity)
    for name, values in short.items():
        assert np.allclose(values, long[name][:10], rtol=1e-6, atol=1e-9), name
    for f in (1, 4, 10):
        one = p.evaluate(config, f, seed)
        for name in one:
            assert one[name] == pytest.approx(long[name][f - 1], rel=1e-5, abs=1e-7), (name, f)


@pytest.mark.parametrize("problem", SYNTHETIC, ids=lambda p: p.name)
def test_synthetic_curves_are_prefixes(problem: Problem) -> None:
    _check_prefix(problem, seed=3)


def test_lcbench_curves_are_prefixes(lcbench_or_skip: type) -> None:
    _check_prefix(lcbench_or_skip(189909), seed=0)


def test_effective_fidelity_trains_whole_epochs_within_range() -> None:
    p = Hartmann6("good")
    assert [p.effective_fidelity(f) for f in (0.2, 1.4, 1.6, 26.9, 40, None)] == [1, 1, 2, 27, 27, 27]
    assert p.max_fidelity == 27.0 and p.min_fidelity == 1.0


def test_families_build_their_default_tasks() -> None:
    assert [p.name for p in make_problems("hartmann6")] == [
        "hartmann6-good", "hartmann6-moderate", "hartmann6-bad", "hartmann6-terrible"]
    assert [p.name for p in make_problems("zdt1", ["good"])] == ["zdt1-good"]
    with pytest.raises(ProblemUnavailable, match="choose one of"):
        make_problems("nasbench")
    with pytest.raises(ProblemUnavailable, match="branin: "):
        make_problems("branin", ["perfect"])
