"""``benchmarks.transfer``: the scrambled control keeps the configurations and shuffles the results; the table."""

from __future__ import annotations

from benchmarks.transfer import scrambled, table


def _source() -> dict:
    obs = [{"trial": i, "config": {"x": i / 10}, "fraction": 1.0, "losses": [float(i)]} for i in range(10)]
    return {"name": "bohb-1", "store": "sim", "uid": None, "n_trials": 10, "cost_fte": 3.0, "notes": [],
            "observations": obs}


def test_scrambling_keeps_the_configurations_and_shuffles_their_results() -> None:
    data = _source()
    mixed = scrambled(data, 7)
    assert [o["config"] for o in mixed["observations"]] == [o["config"] for o in data["observations"]]
    losses = [o["losses"][0] for o in mixed["observations"]]
    assert sorted(losses) == [float(i) for i in range(10)] and losses != sorted(losses)
    assert mixed == scrambled(data, 7) and mixed["name"].endswith("-scrambled")


def test_the_table_gives_ratios_to_bohb_at_equal_budget() -> None:
    def line(variant: str, fte: float | None) -> dict:
        return {"variant": variant, "problem": "nope", "budget_fte": 10.0, "fte_to_target": fte,
                "trajectory": [], "sources": ["a"] if variant != "bohb" else [], "source_fte": 30.0,
                "transfer_methods": {"portfolio": 4}}

    out = table([line("bohb", 4.0), line("bohb", 6.0), line("transfer", 1.0), line("transfer", 2.0)])
    rows = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[1:-1]] for r in out.splitlines()[2:]}
    assert rows["bohb"][4] == "1.00" and rows["transfer"][4] == "0.30"  # medians 1.5 / 5.0
    assert rows["transfer"][10] == "1 (30 FTE)"
