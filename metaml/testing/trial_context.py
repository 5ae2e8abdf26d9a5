"""The trial context contract's conformance suite: every ``TrialContext`` implementation must pass all of it.

A training function (a built-in pipeline, the user's) runs on whatever trial context it is
handed: ``metaml.Trial`` in a study, the final evaluation's ``CheckpointTrial``, the
benchmark's in-memory trial. An implementation's test module subclasses
:class:`TrialContextSuite` and gives it a ``maker`` fixture: a :class:`ContextMaker` that makes
that implementation's contexts (a new maker per test). pytest then runs every test below on
it. metaml's own three run it in ``tests/test_trial_context.py``::

    class TestMyTrial(TrialContextSuite):
        @pytest.fixture
        def maker(self, tmp_path):
            return MyMaker(tmp_path)

A context that trains (``maker.trains``) must restore 0 when there is nothing to continue,
keep the curve it is told (``report``) and the state it is given (``checkpoint``), and give
the run that continues it that state back with the step it reached. A stand-in that only
restores a finished run (``trains`` False, the final evaluation's) must refuse to train
(``report`` and ``checkpoint`` raise a ``MetamlError``), refuse a run with no checkpoint,
and restore the checkpoint a finished run left exactly, at its fidelity.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pytest
import torch

from metaml.core.trial_context import RunSettings, TrialContext
from metaml.errors import MetamlError

#: The fidelity of the first run and of the run that continues it.
FIRST, SECOND = 2, 4


class ContextMaker(Protocol):
    """Makes one implementation's trial contexts for the suite."""

    #: False for a stand-in that restores a finished run and trains nothing.
    trains: bool

    def fresh(self, fidelity: int) -> TrialContext:
        """A context for a new run up to ``fidelity``: nothing to restore (for a stand-in: no checkpoint)."""
        ...

    def following(self, fidelity: int) -> TrialContext:
        """A context for the run that continues the latest checkpoint (a promotion to ``fidelity``, say).

        For a context that trains, the checkpoint is the one the latest context this maker
        made was given; for a stand-in, the one ``leave_checkpoint`` left.
        """
        ...

    def leave_checkpoint(self, step: int, **objects: Any) -> None:
        """For a stand-in only: leave what a run that trained to ``step`` checkpointed (the objects' state)."""
        ...


def model(value: float) -> torch.nn.Linear:
    """A small module whose every weight is ``value``: its state says which step it was saved at."""
    layer = torch.nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.fill_(value)
        layer.bias.fill_(-value)
    return layer


def same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def train(context: TrialContext, start: int) -> torch.nn.Linear:
    """What a training loop does: from ``start`` to the fidelity, report and checkpoint every step."""
    net = model(float(start))
    assert context.fidelity is not None
    for step in range(start + 1, int(context.fidelity) + 1):
        net = model(float(step))
        context.report(step, val_error=np.float64(1.0 / step), train_loss=1.0 / step)
        context.checkpoint(step, model=net)
        assert context.should_stop() is False, "nothing asks this run to stop"
    return net


class TrialContextSuite:
    """The trial context contract's tests; subclass it with a ``maker`` fixture (see the module)."""

    @pytest.fixture
    def maker(self) -> ContextMaker:
        raise NotImplementedError("give the suite a maker fixture: a ContextMaker of your implementation")

    # ------------------------------------------------------------------ every context
    def test_it_is_a_trial_context_with_what_a_training_function_reads(self, maker: ContextMaker) -> None:
        context = maker.fresh(FIRST)
        assert isinstance(context, TrialContext)
        assert isinstance(context.number, int) and not isinstance(context.number, bool)
        assert isinstance(context.config, Mapping)
        assert context.fidelity is not None and float(context.fidelity) == FIRST
        assert context.max_fidelity is None or float(context.max_fidelity) >= float(context.fidelity)
        assert context.directory is None or isinstance(context.directory, Path)
        assert isinstance(context.objective_names, tuple) and all(isinstance(n, str) for n in context.objective_names)
        assert isinstance(context.run_settings, RunSettings)
        assert isinstance(context.info, Mapping)

    def test_config_at_gives_the_configuration_of_every_step_when_no_schedule_is_set(self, maker: ContextMaker) -> None:
        context = maker.fresh(FIRST)
        for step in range(0, FIRST + 1):
            at = context.config_at(step)
            assert isinstance(at, Mapping) and dict(at) == dict(context.config)

    def test_should_stop_is_false_when_nothing_asks_the_run_to_stop(self, maker: ContextMaker) -> None:
        assert maker.fresh(FIRST).should_stop() is False

    def test_its_directory_when_it_has_one_is_a_folder_the_run_may_write_into(self, maker: ContextMaker) -> None:
        directory = maker.fresh(FIRST).directory
        if directory is None:
            return  # a stand-in: the function writes nothing
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "notes.txt").write_text("kept with the trial")
        assert (directory / "notes.txt").read_text() == "kept with the trial"

    # ------------------------------------------------------------- a context that trains
    def test_a_fresh_run_restores_nothing_and_leaves_the_objects_alone(self, maker: ContextMaker) -> None:
        context = maker.fresh(FIRST)
        net = model(7.0)
        if not maker.trains:
            with pytest.raises(MetamlError):
                context.restore(model=net)  # a stand-in without a checkpoint has nothing to score
        else:
            assert context.restore(model=net) == 0
        assert same_state(net, model(7.0))

    def test_a_continued_run_restores_the_state_and_step_its_predecessor_checkpointed(
        self, maker: ContextMaker
    ) -> None:
        if not maker.trains:
            pytest.skip("a stand-in trains nothing: its restore is checked below")
        first = maker.fresh(FIRST)
        assert first.restore(model=model(0.0)) == 0
        trained = train(first, 0)
        second = maker.following(SECOND)
        restored = model(0.0)
        start = second.restore(model=restored)
        assert isinstance(start, int) and start == FIRST, "restore returns the step reached, as a whole number"
        assert same_state(restored, trained), "the state checkpointed at the step reached comes back"
        train(second, start)  # and the missing steps are trained, reported and checkpointed from there on

    def test_a_run_restores_what_the_run_before_it_left_again_after_more_steps(self, maker: ContextMaker) -> None:
        if not maker.trains:
            pytest.skip("a stand-in trains nothing")
        first = maker.fresh(FIRST)
        first.restore(model=model(0.0))
        train(first, 0)
        second = maker.following(SECOND)
        trained = train(second, second.restore(model=model(0.0)))
        third = maker.following(SECOND)
        restored = model(0.0)
        assert third.restore(model=restored) == SECOND
        assert same_state(restored, trained)

    # ------------------------------------------------------------ a stand-in that restores
    def test_a_stand_in_restores_the_finished_state_at_its_fidelity(self, maker: ContextMaker) -> None:
        if maker.trains:
            pytest.skip("checked for contexts that train above")
        maker.leave_checkpoint(SECOND, model=model(float(SECOND)))
        context = maker.following(SECOND)
        restored = model(0.0)
        assert context.restore(model=restored) == SECOND
        assert same_state(restored, model(float(SECOND)))

    def test_a_stand_in_refuses_to_train(self, maker: ContextMaker) -> None:
        if maker.trains:
            pytest.skip("a context that trains reports and checkpoints")
        maker.leave_checkpoint(SECOND, model=model(float(SECOND)))
        context = maker.following(SECOND)
        with pytest.raises(MetamlError):
            context.report(SECOND + 1, val_error=0.5)
        with pytest.raises(MetamlError):
            context.checkpoint(SECOND + 1, model=model(1.0))
        assert context.should_stop() is False
