"""Objectives: validation, limits and feasibility, metric checks, Pareto ranks and hypervolume by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from metaml.errors import MetamlError, ObjectiveError
from metaml.objectives import (
    Objective,
    check_metrics,
    hypervolume,
    nondominated,
    pareto_ranks,
    parse_objectives,
    reference_point,
    to_loss_matrix,
)

# ------------------------------------------------------------------------ Objective


def test_objective_defaults_and_sign() -> None:
    o = Objective("val_error")
    assert o.goal == "min" and o.limit is None and o.sign == 1.0
    assert Objective("accuracy", "max").sign == -1.0


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        ({"name": ""}, "non-empty name"),
        ({"name": None}, "non-empty name"),
        ({"name": "err", "goal": "minimize"}, "'err'.*goal must be 'min' or 'max'"),
        ({"name": "err", "goal": "MIN"}, "goal"),
        ({"name": "err", "limit": "low"}, "'err'.*limit must be a number"),
        ({"name": "err", "limit": float("nan")}, "limit must be a number"),
        ({"name": "err", "limit": True}, "limit must be a number"),
        ({"name": "err", "limit": [1.0]}, "limit must be a number"),
    ],
)
def test_objective_validation(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ObjectiveError, match=pattern) as info:
        Objective(**kwargs)
    assert isinstance(info.value, MetamlError)


def test_limits_become_floats() -> None:
    assert Objective("e", limit=1).limit == 1.0 and type(Objective("e", limit=1).limit) is float
    assert type(Objective("e", limit=np.float32(0.5)).limit) is float
    assert Objective.from_dict({"name": "e", "limit": "5e-3"}).limit == 5e-3  # as PyYAML reads 5e-3
    with pytest.raises(ObjectiveError, match="'e'.*limit"):
        Objective.from_dict({"name": "e", "limit": "five"})


@pytest.mark.parametrize(
    "goal,limit,value,ok",
    [
        ("min", None, 1e9, True),
        ("min", 5.0, 4.9, True),
        ("min", 5.0, 5.0, True),  # the limit itself is allowed
        ("min", 5.0, 5.1, False),
        ("max", 0.9, 0.95, True),
        ("max", 0.9, 0.9, True),
        ("max", 0.9, 0.89, False),
        ("max", None, -1e9, True),
        ("min", 0.0, -1.0, True),
        ("max", -2.0, -3.0, False),
    ],
)
def test_feasibility_for_min_and_max(goal: str, limit: float | None, value: float, ok: bool) -> None:
    assert Objective("m", goal, limit).feasible(value) is ok


def test_from_dict_and_to_dict() -> None:
    o = Objective.from_dict({"name": "latency_ms", "goal": "min", "limit": 5})
    assert o == Objective("latency_ms", "min", 5.0)
    assert Objective.from_dict(o.to_dict()) == o
    assert Objective.from_dict("err") == Objective("err")
    assert Objective.from_dict(o) is o
    assert Objective("a", "max").to_dict() == {"name": "a", "goal": "max"}
    with pytest.raises(ObjectiveError, match="unknown fields.*'target'"):
        Objective.from_dict({"name": "a", "target": 3})
    with pytest.raises(ObjectiveError, match="needs a name"):
        Objective.from_dict({"goal": "min"})
    with pytest.raises(ObjectiveError, match="name or a mapping"):
        Objective.from_dict(3)


def test_parse_objectives() -> None:
    assert parse_objectives("err") == (Objective("err"),)
    assert parse_objectives({"name": "acc", "goal": "max"}) == (Objective("acc", "max"),)
    objs = parse_objectives(["err", {"name": "latency", "limit": 5}, Objective("size", "min")])
    assert [o.name for o in objs] == ["err", "latency", "size"] and objs[1].limit == 5.0
    for bad, pattern in [([], "at least one"), (None, "at least one"), (["a", "a"], "repeat"), (["a", {"name": "a", "goal": "max"}], "repeat")]:
        with pytest.raises(ObjectiveError, match=pattern):
            parse_objectives(bad)


# ------------------------------------------------------------------- check_metrics
OBJS = (Objective("err"), Objective("acc", "max"))


def test_check_metrics_returns_floats_and_keeps_extra_numbers() -> None:
    out = check_metrics(OBJS, {"err": 1, "acc": 0.5, "n_params": 1234, "note": "hi", "curve": [1, 2], "cfg": {"a": 1}, "nothing": None})
    assert out == {"err": 1.0, "acc": 0.5, "n_params": 1234.0}
    assert all(type(v) is float for v in out.values())


def test_check_metrics_accepts_numpy_and_torch_scalars() -> None:
    out = check_metrics(
        OBJS, {"err": np.float32(0.25), "acc": torch.tensor(0.75), "steps": np.int64(3), "one": np.array([2.0]), "flag": np.bool_(True)}
    )
    assert out == {"err": 0.25, "acc": 0.75, "steps": 3.0, "one": 2.0}
    assert all(type(v) is float for v in out.values())


def test_check_metrics_ignores_extra_arrays_and_tensors() -> None:
    out = check_metrics(OBJS, {"err": 0.1, "acc": 0.9, "per_class": np.array([0.1, 0.2]), "logits": torch.zeros(3)})
    assert out == {"err": 0.1, "acc": 0.9}


@pytest.mark.parametrize(
    "metrics,pattern",
    [
        ({"acc": 0.9}, "lack the objective 'err'"),
        ({}, "lack the objective 'err'"),
        ({1: 0.5, "acc": 0.9}, "lack the objective 'err'.*'1', 'acc'"),
        ({"err": float("nan"), "acc": 0.9}, "'err' is nan"),
        ({"err": 0.1, "acc": float("inf")}, "'acc' is inf"),
        ({"err": -math.inf, "acc": 0.9}, "'err' is -inf"),
        ({"err": np.float64("nan"), "acc": 0.9}, "'err' is nan"),
        ({"err": torch.tensor(float("nan")), "acc": 0.9}, "'err' is nan"),
        ({"err": "0.1", "acc": 0.9}, "'err' must be a number"),
        ({"err": None, "acc": 0.9}, "'err' must be a number"),
        ({"err": True, "acc": 0.9}, "'err' must be a number"),
        ({"err": [0.1], "acc": 0.9}, "'err' must be a number"),
        ({"err": np.array([0.1, 0.2]), "acc": 0.9}, "'err' must be a number"),
    ],
)
def test_check_metrics_refuses_bad_objective_values(metrics: dict, pattern: str) -> None:
    with pytest.raises(ObjectiveError, match=pattern):
        check_metrics(OBJS, metrics)


@pytest.mark.parametrize("metrics", [None, 0.5, [("err", 0.1)], "err=0.1"])
def test_check_metrics_needs_a_mapping(metrics: object) -> None:
    with pytest.raises(ObjectiveError, match="dict of metrics|dict with"):
        check_metrics(OBJS, metrics)  # type: ignore[arg-type]


# ------------------------------------------------------------ Pareto and hypervolume


def test_loss_matrix_turns_max_objectives() -> None:
    losses = to_loss_matrix(OBJS, [{"err": 0.1, "acc": 0.9}, {"err": 0.2, "acc": 0.95, "x": 1.0}])
    assert losses.tolist() == [[0.1, -0.9], [0.2, -0.95]]
    assert to_loss_matrix(OBJS, []).shape == (0, 2)


def test_nondominated_2d_by_hand() -> None:
    losses = np.array([[1, 5], [2, 3], [3, 3], [4, 1], [5, 5], [2, 4]], dtype=float)
    # (3,3) is dominated by (2,3); (5,5) by everything; (2,4) by (2,3)
    assert nondominated(losses).tolist() == [True, True, False, True, False, False]
    assert pareto_ranks(losses).tolist() == [1, 1, 2, 1, 3, 2]


def test_ties_are_all_kept_on_the_front() -> None:
    losses = np.array([[1, 2], [1, 2], [2, 1], [2, 2]], dtype=float)
    assert nondominated(losses).tolist() == [True, True, True, False]
    assert pareto_ranks(losses).tolist() == [1, 1, 1, 2]
    # equal in one objective, better in the other: dominated
    assert nondominated(np.array([[1, 1], [1, 2]], dtype=float)).tolist() == [True, False]


def test_nondominated_3d_by_hand() -> None:
    losses = np.array([[1, 1, 1], [2, 2, 2], [1, 2, 3], [3, 3, 3], [0, 5, 5], [3, 2, 1]], dtype=float)
    assert nondominated(losses).tolist() == [True, False, False, False, True, False]
    assert pareto_ranks(losses).tolist() == [1, 2, 2, 3, 1, 2]


def test_empty_inputs() -> None:
    empty = np.zeros((0, 2))
    assert nondominated(empty).tolist() == [] and pareto_ranks(empty).tolist() == []
    assert hypervolume(empty, np.array([1.0, 1.0])) == 0.0


def test_hypervolume_2d_by_hand() -> None:
    ref = np.array([4.0, 4.0])
    # staircase: 3x1 + 2x1 + 1x1 strips -> 3*1 + 2*1 + 1*1 ... computed as a union of boxes
    points = np.array([[1, 3], [2, 2], [3, 1]], dtype=float)
    assert hypervolume(points, ref) == pytest.approx(3 + 2 + 1)
    assert hypervolume(np.array([[1.0, 1.0]]), ref) == pytest.approx(9.0)
    # dominated and duplicate points add nothing
    more = np.vstack([points, [[3, 3], [2, 2]]])
    assert hypervolume(more, ref) == pytest.approx(6.0)
    # points on or beyond the reference add nothing (and do not fail)
    assert hypervolume(np.vstack([points, [[4, 0], [0, 5]]]), ref) == pytest.approx(6.0)
    assert hypervolume(np.array([[5.0, 5.0]]), ref) == 0.0


def test_hypervolume_3d_by_hand() -> None:
    ref = np.array([4.0, 4.0, 4.0])
    assert hypervolume(np.array([[1.0, 2.0, 3.0]]), ref) == pytest.approx(3 * 2 * 1)
    # three boxes sharing y in [2, 4]; in (x, z) areas 3 + 3 + 4, pairwise overlaps 1 + 2 + 2, triple 1 -> 6
    points = np.array([[1, 2, 3], [3, 2, 1], [2, 2, 2]], dtype=float)
    assert hypervolume(points, ref) == pytest.approx(6 * 2)


def test_reference_point_uses_limits_else_the_worst_plus_ten_percent() -> None:
    objs = (Objective("err"), Objective("acc", "max", 0.9), Objective("lat", "min", 5.0), Objective("f", "max"))
    losses = np.array([[0.1, -0.95, 3.0, -2.0], [0.3, -0.99, 4.0, -1.0]])
    ref = reference_point(objs, losses)
    assert ref[0] == pytest.approx(0.3 + 0.1 * 0.3)  # worst 0.3, range 0.2, |worst| 0.3
    assert ref[1] == -0.9 and ref[2] == 5.0  # the limits, turned like the losses
    assert ref[3] == pytest.approx(-1.0 + 0.1 * 1.0)
    assert np.all(losses < ref)  # every point contributes
    assert reference_point(objs, np.zeros((0, 4))).tolist() == [0.0, -0.9, 5.0, 0.0]


def test_hypervolume_with_a_limit_counts_only_feasible_points() -> None:
    objs = (Objective("err"), Objective("lat", "min", 2.0))
    losses = to_loss_matrix(objs, [{"err": 0.1, "lat": 3.0}, {"err": 0.2, "lat": 1.0}])
    ref = reference_point(objs, losses)
    assert ref.tolist() == pytest.approx([0.2 + 0.1 * 0.2, 2.0])
    # the first point breaks the latency limit and is left out; the second spans 0.02 x 1.0
    assert hypervolume(losses, ref) == pytest.approx(0.02 * 1.0)


# ------------------------------------------------ best on the front, the hypervolume reference


def test_best_row_is_on_the_front_and_ties_go_to_the_other_objectives() -> None:
    from metaml.objectives import best_row

    # rows 0 and 1 tie on the first column; row 0 has 6x the second: dominated by row 1
    losses = np.array([[0.1, 6000.0], [0.1, 1000.0], [0.3, 10.0]])
    assert best_row(losses, 0) == 1 and best_row(losses, 1) == 2
    # three columns: a tie on the first and second is broken by the third
    three = np.array([[0.1, 5.0, 3.0], [0.1, 5.0, 2.0], [0.2, 1.0, 1.0]])
    assert best_row(three, 0) == 1
    # rows equal on every column: the first of them
    assert best_row(np.array([[1.0, 2.0], [1.0, 2.0]]), 0) == 0
    assert best_row(np.zeros((0, 2)), 0) is None


def test_the_reference_is_fixed_by_the_first_result_and_widened_when_a_front_member_lies_outside() -> None:
    from metaml.objectives import hypervolume_reference

    objs = (Objective("err"), Objective("size"))
    losses = np.array([
        [0.2, 100.0],   # 0: fixes the reference at (0.22, 110)
        [0.1, 105.0],   # 1: on the front, inside
        [0.3, 500.0],   # 2: outside, but dominated by 0: no change
        [0.05, 600.0],  # 3: on the front and outside in size: widened
    ])
    ref = hypervolume_reference(objs, losses, labels=[10, 11, 12, 13])
    first = [0.2 + 0.1 * 0.2, 100.0 + 0.1 * 100.0]
    assert [c.trial for c in ref.changes] == [10, 13]
    assert ref.changes[0].before is None and list(ref.changes[0].after) == pytest.approx(first)
    assert list(ref.changes[1].before) == pytest.approx(first)  # type: ignore[arg-type]
    # only the column it lies outside in moves: to the front's worst plus 10% (of its range or its worst value)
    assert list(ref.point) == pytest.approx([first[0], 600.0 + 0.1 * 600.0])  # type: ignore[arg-type]
    assert ref.changes[1].columns == (1,)
    front = losses[nondominated(losses)]
    assert np.all(front < np.asarray(ref.point))  # every front member counts
    assert hypervolume_reference(objs, losses[:2]).changes[-1].after == ref.changes[0].after  # a prefix agrees
    assert hypervolume_reference(objs, np.zeros((0, 2))).point is None


def test_limits_fix_their_columns_from_the_start_and_never_move() -> None:
    from metaml.objectives import hypervolume_reference

    limited = (Objective("err", limit=0.5), Objective("acc", "max", 0.6))
    ref = hypervolume_reference(limited, np.zeros((0, 2)))
    assert ref.point == (0.5, -0.6) and len(ref.changes) == 1 and ref.changes[0].trial is None
    mixed = (Objective("err", limit=0.5), Objective("size"))
    losses = np.array([[0.4, 10.0], [0.1, 50.0], [0.9, 1.0]])  # the last breaks the err limit: ignored
    point = hypervolume_reference(mixed, losses).point
    assert point is not None and point[0] == 0.5 and point[1] == pytest.approx(50.0 + 0.1 * 50.0)
