"""The good- and misleading-prior benchmark: where the priors sit, and how the targets are judged."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import priors
from benchmarks.problems import make_problems
from benchmarks.stats import Ratio
from benchmarks.targets import load_targets, reference_sample
from metaml.space import Fidelity


@pytest.fixture
def hartmann():
    return make_problems("hartmann6", ["good"])[0]


def test_the_good_prior_is_the_best_reference_configuration_and_the_bad_one_the_worst(hartmann) -> None:
    targets = load_targets(hartmann)
    where = priors.prior_locations(hartmann, targets)
    configs, values = reference_sample(hartmann)
    assert where["good"] == configs[int(np.argmin(values))]
    assert where["bad"] == configs[int(np.argmax(values))]
    good = hartmann.evaluate(where["good"], hartmann.max_fidelity, 0)["loss"]
    assert good == pytest.approx(targets.best_random) and good <= targets.target
    # near: moved, but by a step of 0.15 per unit coordinate, not anywhere
    moved = [abs(where["near"][k] - where["good"][k]) for k in where["good"]]
    assert 0 < max(moved) < 0.6 and where["near"] != where["good"]
    assert hartmann.space.validate(where["near"]) == where["near"]


def test_with_prior_sets_every_searchable_parameter_and_leaves_the_fidelity(hartmann) -> None:
    config = hartmann.space.default()
    spaced = priors.with_prior(hartmann.space, config, "high")
    for name, param in spaced.searchable.items():
        assert param.prior == config[name] and param.confidence == "high"
    assert isinstance(spaced.parameters[next(iter(n for n in spaced.parameters if n not in config))], Fidelity)
    assert spaced.has_priors and not hartmann.space.has_priors
    subject = priors.prior_problem(hartmann, config, "medium")
    assert subject.space.default() == config and subject is not hartmann
    assert priors.prior_problem(hartmann, None, "medium") is hartmann


def test_a_good_prior_speeds_priorband_and_the_rows_say_so(hartmann, tmp_path) -> None:
    out = tmp_path / "priors.jsonl"
    results = priors.run([hartmann], ["priorband"], ["none", "good"], seeds=2, budget=12.0, random_budget=12.0,
                         confidence="medium", out=out)
    assert len(out.read_text().splitlines()) == len(results) == 6  # random + 2 variants, 2 seeds each
    assert {json.loads(line)["prior"] for line in out.read_text().splitlines()} == {"none", "good"}
    rows = {(r["optimizer"], r["prior"]): r for r in priors.summary_rows(results)}
    good, none = rows[("priorband", "good")], rows[("priorband", "none")]
    assert good["reached"] == 2 and good["median"] <= none["median"]
    assert isinstance(good["vs_no_prior"], Ratio) and "vs_no_prior" not in none
    assert "| `priorband` | good |" in priors.markdown(list(rows.values()))


def test_verdicts_read_the_ratios_and_respect_censoring() -> None:
    def result(name: str, prior: str, fte: float | None, budget: float = 30.0) -> dict:
        return {"optimizer": name, "prior": prior, "fte_to_target": fte, "budget_fte": budget}

    results = ([result("random", "none", x, 200.0) for x in (40.0, 80.0, 120.0)]
               + [result("bo", "none", x) for x in (8.0, 10.0, 12.0)]
               + [result("bo", "good", x) for x in (1.0, 4.0, 9.0)]
               + [result("bo", "bad", x) for x in (20.0, None, None)])
    rows = priors.summary_rows(results)
    by = {(r["optimizer"], r["prior"]): r for r in rows}
    assert str(by[("bo", "good")]["vs_no_prior"]) == "0.40"
    # the misleading prior's median is censored at 30 FTE: only "more than 30 / 80" is known
    assert str(by[("bo", "bad")]["vs_random"]) == ">0.38"
    lines = priors.verdicts(rows)
    assert "bo: good prior / no prior = 0.40 (target <= 0.5): met" in lines
    assert "bo: misleading prior / random search = >0.38 (target <= 2): undecided" in lines[1]


@pytest.mark.parametrize(("ratio", "verdict"), [
    (Ratio(0.4), "met"), (Ratio(0.6), "NOT met"),
    (Ratio(0.4, "<"), "met"), (Ratio(0.67, "<"), "undecided"),   # only "below 0.67" is known
    (Ratio(0.38, ">"), "undecided"), (Ratio(0.8, ">"), "NOT met"),  # only "above" is known
    (Ratio(float("nan")), "undecided"),
])
def test_a_verdict_is_given_only_where_censoring_allows(ratio: Ratio, verdict: str) -> None:
    assert priors._verdict(ratio, 0.5).startswith(verdict)


def test_a_problem_that_really_trains_is_refused(capsys) -> None:
    with pytest.raises(SystemExit):
        priors.main(["--problem", "tabular"])
    assert "really trains" in capsys.readouterr().err



def test_the_command_runs_and_prints_the_table_and_verdicts(capsys, tmp_path) -> None:
    out = tmp_path / "runs.jsonl"
    assert priors.main(["--problem", "hartmann6", "--tasks", "good", "--optimizers", "priorband", "--variants",
                        "none,good,bad", "--seeds", "1", "--budget-fte", "8", "--random-budget", "8",
                        "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| `priorband` | good |" in printed and "| `random` | none |" in printed
    assert "priorband: good prior / no prior" in printed and "priorband: misleading prior / random search" in printed
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 4 and all(r["command"].startswith("python -m benchmarks.priors --problem") for r in lines)
    assert priors.main(["--results", str(out)]) == 0  # the table again, from the result lines
    assert "| `priorband` | bad |" in capsys.readouterr().out
