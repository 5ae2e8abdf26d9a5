"""Reading an earlier study's configurations in a changed space: each rule (drop, fill, clip, refuse) and said."""

from __future__ import annotations

from metaml.space import Categorical, Constant, Fidelity, Float, Int, Space
from metaml.space.matching import match_spaces

EARLIER = Space({
    "lr": Float(1e-4, 1e-1, log=True),
    "depth": Int(1, 8),
    "act": Categorical(["relu", "gelu", "tanh"]),
    "old": Float(0.0, 1.0),
    "epochs": Fidelity(1, 9),
})
THIS = Space({
    "lr": Float(1e-3, 1e-1, log=True),  # narrowed
    "depth": Int(1, 4),  # narrowed
    "act": Categorical(["relu", "gelu", "silu"]),  # tanh removed, silu added
    "new": Float(0.0, 2.0),  # not in the earlier study
    "epochs": Fidelity(1, 27),
})


def test_the_space_level_notes_say_every_rule_once() -> None:
    m = match_spaces(EARLIER, THIS)
    assert m.shared == ("lr", "depth", "act") and m.dropped == ("old",) and m.filled == ("new",)
    joined = " | ".join(m.notes)
    for word in ("'old' is not in this space: dropped", "'new' is not in the earlier study", "clipped", "refused",
                 "'silu'"):
        assert word in joined


def test_values_are_carried_clipped_filled_and_dropped() -> None:
    m = match_spaces(EARLIER, THIS)
    got = m.config({"lr": 1e-4, "depth": 7, "act": "gelu", "old": 0.3})
    assert got.config == {"lr": 1e-3, "depth": 4, "act": "gelu", "new": 1.0}
    assert got.clipped == ("lr", "depth") and got.filled == ("new",) and got.refused is None
    inside = m.config({"lr": 0.01, "depth": 2, "act": "relu", "old": 0.3})
    assert inside.config == {"lr": 0.01, "depth": 2, "act": "relu", "new": 1.0} and inside.clipped == ()


def test_a_removed_choice_refuses_the_trial() -> None:
    got = match_spaces(EARLIER, THIS).config({"lr": 0.01, "depth": 2, "act": "tanh", "old": 0.3})
    assert got.config is None and got.refused is not None and got.refused.startswith("'act'")


def test_a_changed_kind_is_filled_and_a_changed_constant_refuses() -> None:
    a = Space({"x": Float(0.0, 1.0), "k": Constant(3)})
    b = Space({"x": Categorical(["lo", "hi"]), "k": Constant(4)})
    m = match_spaces(a, b)
    assert m.shared == ("k",) and m.filled == ("x",)
    assert m.config({"x": 0.5, "k": 3}).config is None
    same = match_spaces(a, Space({"x": Categorical(["lo", "hi"]), "k": Constant(3)}))
    assert same.config({"x": 0.5, "k": 3}).config == {"x": "lo", "k": 3}


def test_conditions_are_read_in_this_space() -> None:
    a = Space({"model": Categorical({"mlp": {"width": Int(16, 256)}, "linear": {}})})
    b = Space({"model": Categorical({"mlp": {"width": Int(16, 64)}, "linear": {}})})
    m = match_spaces(a, b)
    assert m.config({"model": "mlp", "model.mlp.width": 200}).config == {"model": "mlp", "model.mlp.width": 64}
    assert m.config({"model": "linear"}).config == {"model": "linear"}


def test_no_shared_parameter_is_visible() -> None:
    m = match_spaces(Space({"a": Float(0, 1)}), Space({"b": Float(0, 1)}))
    assert m.shared == ()
