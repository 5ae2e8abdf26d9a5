"""The curve-network experiment (``benchmarks.curve_pfn``): its synthetic studies and the network's attention rules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from benchmarks.curve_pfn.prior import D_MAX, OWN, Task, batch, own_curve

torch = pytest.importorskip("torch")


def test_a_synthetic_study_holds_short_curves_at_the_geometric_steps_and_asks_for_unfinished_finals() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        task = Task(rng)
        context, queries = task.study(n_runs=8, n_new=3)
        z = np.array([x[-1] for x, _ in context])
        assert np.all((0 <= z) & (z <= 1)) and all(np.isfinite(v) and v < 0 for _, v in context)  # log errors
        assert len(queries) >= 3 and all(x.shape == (D_MAX + 1 + OWN,) for x, _ in queries)
        assert all(x[D_MAX] == 1.0 for x, _ in queries)  # every question is about the full fidelity
        assert sum(x[D_MAX + 1] == 0 for x, _ in queries) == 3  # the untried configurations have no curve


def test_half_the_synthetic_tasks_are_narrow_and_every_width_up_to_d_max_occurs() -> None:
    from benchmarks.curve_pfn.prior import NARROW

    widths = np.array([Task(np.random.default_rng(i), d_max=20).d for i in range(1000)])
    assert widths.min() == 1 and widths.max() == 20
    assert 0.75 < np.mean(widths <= NARROW) < 0.85  # half up to NARROW, 12 of 20 of the others: 0.8
    xc, _, _, xq, _, _ = batch(np.random.default_rng(0), 2, d_max=5)
    assert xc.shape[2] == 5 + 1 and xq.shape[2] == 5 + 1 + OWN


def test_a_surrogate_study_shuffles_and_mirrors_the_dimensions_and_keeps_the_real_curves(lcbench_or_skip: Any) -> None:
    from benchmarks.curve_pfn.prior import SurrogatePool

    pool = SurrogatePool(3945, 50, np.random.default_rng(0))
    assert pool.X.shape == (50, 7) and pool.y.shape == (50, len(pool.steps)) and pool.steps[-1] == 52
    assert np.all(pool.y <= 0) and np.all(np.isfinite(pool.y))  # log errors
    tasks = [pool.task(np.random.default_rng(i), d_max=12) for i in range(2)]
    assert not np.array_equal(tasks[0].slots, tasks[1].slots) or not np.array_equal(tasks[0].mirror, tasks[1].mirror)
    task = tasks[0]
    context, queries = task.study(n_runs=10, n_new=4)
    x, _ = context[0]
    used = np.zeros(12, dtype=bool)
    used[task.slots] = True
    assert np.all(x[:12][~used] == 0)  # the seven dimensions sit at the study's slots, the rest padding
    finals = sorted(v for _, v in queries)
    assert sum(q[12 + 1] == 0 for q, _ in queries) == 4  # the untried ones have no curve
    assert min(np.abs(pool.y[:, -1] - f).min() for f in finals) < 0.2  # finals are the pool's, with a little noise
    xc, yc, pad, xq, yq, present = batch(np.random.default_rng(0), 4, d_max=12, pools=[pool], pool_share=1.0)
    assert xc.shape[2] == 13 and np.isfinite(yc[~pad]).all() and present.any()
    with pytest.raises(ValueError, match="cannot read"):
        pool.task(np.random.default_rng(0), d_max=5)


def test_training_on_surrogate_curves_refuses_tasks_kept_for_evaluation(tmp_path: Any) -> None:
    from benchmarks.curve_pfn.__main__ import main

    with pytest.raises(SystemExit, match="not LCBench development tasks"):
        main(["train", "--minutes", "0.001", "--surrogate-tasks", "3945,7593", "--out", str(tmp_path / "n.pt")])


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--surrogate-tasks", "3945", "--surrogate-share", "0"], r"must be in \(0, 1\], not 0.0"),
        (["--surrogate-tasks", "3945", "--surrogate-share", "1.5"], r"must be in \(0, 1\], not 1.5"),
        (["--surrogate-share", "0.5"], "needs --surrogate-tasks"),  # silently ignored before
    ],
)
def test_training_refuses_a_surrogate_share_it_cannot_use(tmp_path: Any, extra: list[str], message: str) -> None:
    from benchmarks.curve_pfn.__main__ import main

    with pytest.raises(SystemExit, match=message):
        main(["train", "--minutes", "0.001", *extra, "--out", str(tmp_path / "n.pt")])
    assert not (tmp_path / "n.pt").exists()


def test_a_query_s_own_curve_is_its_last_point_and_slope() -> None:
    z, y = np.array([0.0, 0.5, 1.0]), np.array([-1.0, -2.0, -2.5])
    assert own_curve(z, y, 2).tolist() == [1.0, -2.0, 0.5, -2.0]
    assert own_curve(z, y, 0).tolist() == [0.0, 0.0, 0.0, 0.0]


def test_queries_see_the_context_but_not_each_other_and_padding_changes_nothing() -> None:
    from metaml.optimizers.curve_network import make_network

    torch.manual_seed(0)
    net = make_network(d_model=32, layers=2, heads=2, ff=64).eval()
    Xc, yc, pad, Xq, _, _ = (torch.as_tensor(a, dtype=torch.float32 if a.dtype != bool else torch.bool)
                             for a in batch(np.random.default_rng(1), 2))
    with torch.no_grad():
        mean, log_sd = net(Xc, yc, pad, Xq)
        other = Xq.clone()
        other[:, 1:] = torch.rand_like(other[:, 1:])
        assert torch.allclose(net(Xc, yc, pad, other)[0][:, 0], mean[:, 0], atol=1e-5)
        longer = (torch.cat([Xc, torch.rand(2, 5, Xc.shape[2])], 1), torch.cat([yc, torch.rand(2, 5)], 1),
                  torch.cat([pad, torch.ones(2, 5, dtype=torch.bool)], 1))
        assert torch.allclose(net(*longer, Xq)[0], mean, atol=1e-5)
        changed = yc.clone()
        changed[~pad] += torch.randn(int((~pad).sum()))
        assert not torch.allclose(net(Xc, changed, pad, Xq)[0], mean, atol=1e-4)
    assert mean.shape == log_sd.shape == Xq.shape[:2]


def test_importing_the_search_registers_no_optimizer() -> None:
    import benchmarks.curve_pfn.search  # noqa: F401
    from metaml.optimizers.registry import available

    assert "freeze_thaw_network" not in available()


def test_train_compare_and_search_run_end_to_end_on_tiny_settings(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], lcbench_or_skip: Any
) -> None:
    import json

    from benchmarks.curve_pfn.__main__ import main

    weights = tmp_path / "net.pt"
    assert main(["train", "--minutes", "0.02", "--out", str(weights)]) == 0
    assert weights.exists() and "steps of 16 studies" in capsys.readouterr().out
    assert main(["compare", "--weights", str(weights), "--runs", "4", "--length", "2", "--draws", "1"]) == 0
    row = capsys.readouterr().out.strip().split("|")[1:-1]
    assert [c.strip() for c in row[:3]] == ["4", "2", "8"]  # one study per development task
    assert all(-1.0 <= float(c) <= 1.0 for c in row[3:7]) and row[7].strip().endswith("%")
    out = tmp_path / "search.jsonl"
    spec = f"freeze_thaw_network@weights={weights}"
    assert main(["search", "--tasks", "3945", "--optimizers", spec, "--seeds", "2", "--budget-fte", "0.2",
                 "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 2 and {r["optimizer"] for r in lines} == {spec}
    assert all(r["fte_spent"] >= 0.2 for r in lines) and "freeze_thaw_network" in capsys.readouterr().out


def test_a_resumed_training_keeps_the_network_s_width_unless_told(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.curve_pfn.__main__ import main
    from metaml.optimizers.curve_network import load_network

    kept, wider = tmp_path / "kept.pt", tmp_path / "wider.pt"
    assert main(["train", "--resume", "shipped", "--minutes", "0.005", "--threads", "1", "--out", str(kept)]) == 0
    assert main(["train", "--resume", str(kept), "--d-max", "16", "--minutes", "0.005", "--threads", "1",
                 "--out", str(wider)]) == 0
    assert load_network(None).d_max == 12 and load_network(str(kept)).d_max == 12
    assert load_network(str(wider)).d_max == 16
