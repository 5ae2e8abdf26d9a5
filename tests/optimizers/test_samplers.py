"""Samplers: the small contract, and PriorBand's mixing of prior, incumbent and uniform draws."""

from __future__ import annotations

import numpy as np
import pytest

from metaml.core.records import Proposal, TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers import make_optimizer
from metaml.optimizers.hyperband import Hyperband
from metaml.optimizers.priorband import PriorBandSampler
from metaml.optimizers.rungs import rank_by_first_objective
from metaml.optimizers.samplers import PriorSampler, SampleContext, UniformSampler, make_sampler
from metaml.space import Fidelity, Float, Space

LOSS = (Objective("loss"),)
PRIOR_AT = 0.2
SPACE = Space({"x": Float(0.0, 1.0, prior=PRIOR_AT, confidence="high"), "epochs": Fidelity(1, 9)})


def context(rung: int = 0) -> SampleContext:
    return SampleContext(LOSS, (1, 3, 9), rung, 3, (9, 3, 1), lambda rs: rank_by_first_objective(rs, LOSS))


def result(number: int, x: float, loss: float, fidelity: float = 9) -> TrialRecord:
    return TrialRecord(1, number, {"x": x}, fidelity, None, TrialStatus.COMPLETED, metrics={"loss": loss})


def test_auto_means_prior_when_the_space_has_priors() -> None:
    assert isinstance(make_sampler("auto", SPACE), PriorSampler)
    assert isinstance(make_sampler("auto", Space({"x": Float(0.0, 1.0)})), UniformSampler)
    with pytest.raises(OptimizerError, match="unknown sampler 'tpe'; choose one of auto, model, prior, priorband, uniform"):
        make_sampler("tpe", SPACE)


def test_a_sampler_instance_is_accepted_and_stored_by_its_spec() -> None:
    opt = Hyperband(SPACE, LOSS, sampler=PriorBandSampler(mutation_rate=0.3))
    assert opt.settings["sampler"] == {"name": "priorband", "mutation_rate": 0.3}
    rebuilt = make_optimizer({"name": "hyperband", **opt.settings}, SPACE, LOSS)
    assert isinstance(rebuilt.sampler, PriorBandSampler) and rebuilt.sampler.mutation_rate == 0.3


def test_priorband_needs_a_scheduler() -> None:
    with pytest.raises(OptimizerError, match="needs a multi-fidelity scheduler"):
        PriorBandSampler().sample(SPACE, [], np.random.default_rng(0))


def test_priorband_tries_the_prior_configuration_first() -> None:
    config, reason = PriorBandSampler().sample(SPACE, [], np.random.default_rng(0), context())
    assert config == {"x": PRIOR_AT} and "prior's own configuration" in reason
    config, _ = PriorBandSampler().sample(Space({"x": Float(0.0, 1.0)}), [], np.random.default_rng(0), context())
    assert config != {"x": 0.5}


@pytest.mark.parametrize(("rung", "uniform"), [(0, 1 / 2), (1, 1 / 4), (2, 1 / 10)])
def test_priorband_explores_less_the_higher_a_configuration_starts(rung, uniform) -> None:
    (w_prior, w_inc, w_uniform), incumbent = PriorBandSampler().weights(SPACE, [], context(rung))
    assert w_uniform == pytest.approx(uniform) and w_prior == pytest.approx(1 - uniform)
    assert w_inc == 0 and incumbent is None


def test_incumbent_sampling_starts_after_one_bracket_and_a_full_fidelity_result() -> None:
    sampler = PriorBandSampler()
    cheap = [result(i, 0.5, 1.0, fidelity=1) for i in range(40)]  # 40 epochs spent, nothing at 9
    assert sampler.weights(SPACE, cheap, context())[1] is None
    one_full = [*cheap[:8], result(8, 0.9, 0.5)]  # 8 + 9 = 17 epochs < 9 + 3*2 + 1*6 = 21
    assert sampler.weights(SPACE, one_full, context())[1] is None
    enough = [*cheap[:12], result(12, 0.9, 0.5)]  # 21 epochs and a full run
    (w_prior, w_inc, w_uniform), incumbent = sampler.weights(SPACE, enough, context())
    assert incumbent is not None and incumbent.number == 12
    assert w_inc > 0 and w_prior + w_inc + w_uniform == pytest.approx(1)


def test_the_prior_share_follows_where_the_best_configurations_are() -> None:
    sampler = PriorBandSampler()
    spend = [result(100 + i, 0.5, 5.0, fidelity=1) for i in range(30)]
    near = [result(0, 0.2, 0.1), result(1, 0.22, 0.2), result(2, 0.18, 0.3), result(3, 0.9, 0.9)]
    far = [result(0, 0.9, 0.1), result(1, 0.88, 0.2), result(2, 0.93, 0.3), result(3, 0.2, 0.9)]
    (p_near, i_near, _), _ = sampler.weights(SPACE, near + spend, context())
    (p_far, i_far, _), inc = sampler.weights(SPACE, far + spend, context())
    assert inc is not None and inc.config == {"x": 0.9}
    assert p_near / (p_near + i_near) > 0.4  # prior and incumbent explain the best ones equally well
    assert p_far / (p_far + i_far) < 0.05  # the prior explains none of them: trust the incumbent


def test_without_enough_results_the_incumbent_gets_a_quarter_of_the_prior_side() -> None:
    share = PriorBandSampler().prior_share(SPACE, {2: [result(0, 0.9, 0.1)]}, result(0, 0.9, 0.1), context())
    assert share == pytest.approx(3 / 4)


def test_incumbent_neighbours_are_valid_and_change_something(space) -> None:
    sampler, rng = PriorBandSampler(), np.random.default_rng(0)
    incumbent = space.sample(np.random.default_rng(1))
    for _ in range(50):
        neighbour = sampler.mutate(space, incumbent, rng)
        assert space.validate(neighbour) == neighbour
    neighbours = [sampler.mutate(space, incumbent, rng) for _ in range(20)]
    assert sum(n != incumbent for n in neighbours) >= 18


def test_priorband_samples_nearer_a_good_prior_than_uniform_hyperband() -> None:
    def mean_distance_to_prior(spec: dict[str, str], seed: int) -> float:
        opt = make_optimizer(spec, SPACE, LOSS, seed=seed)
        history: list[TrialRecord] = []
        for number in range(40):
            p: Proposal | None = opt.propose(StudyView.of(history))
            assert p is not None
            loss = abs(p.config["x"] - PRIOR_AT) + 1 / float(p.fidelity or 9)
            history.append(
                TrialRecord(1, number, p.config, p.fidelity, p.continue_from, TrialStatus.COMPLETED,
                            metrics={"loss": loss}, info=p.info)
            )
        return float(np.mean([abs(t.config["x"] - PRIOR_AT) for t in history if t.continue_from is None]))

    # Half of the first bracket's draws are uniform, so the gap is about 0.2 against 0.35 (5 seeds).
    priorband = np.mean([mean_distance_to_prior({"name": "priorband"}, seed) for seed in range(5)])
    uniform = np.mean([mean_distance_to_prior({"name": "hyperband", "sampler": "uniform"}, seed) for seed in range(5)])
    assert priorband < 0.8 * uniform
