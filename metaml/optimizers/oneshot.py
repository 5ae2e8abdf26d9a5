"""``oneshot``: one-shot architecture search, then a black-box optimizer over the outer choices.

The gradient-based and the black-box roads of Deep Learning 2.0 in one study:

1. **supernet**: one trial trains a weight-sharing supernet over the
   architecture choices the space searches (the tabular pipeline's MLP: ``backbone.mlp.depth``,
   ``backbone.mlp.width``, ``activation``; the vision pipeline's CNN: ``backbone.cnn.convs``,
   ``backbone.cnn.width``, ``kernel_size``, ``activation``), the other parameters at
   their defaults (or priors), for ``supernet_fidelity`` of the full fidelity (a quarter by
   default: like DARTS, the search is shorter than the final training, and on the tabular
   example a 3-epoch supernet derives architectures as good as a 12-epoch one, for a quarter
   of the FTE; docs/benchmarks.md). It is charged like any trial, its curve holds the mixture
   weights of every epoch and the failure signs (``metaml.pipelines.oneshot``), and it is
   never a result: its configuration's architecture values are not what it trained, so it
   is kept off the front, the best and the exports (``info['oneshot'] = 'supernet'``).
2. **derived**: the architecture it found is trained as an ordinary trial at full fidelity.
3. **then** (``one_epoch`` by default) searches the rest of the space with the architecture
   pinned to the derived one; each proposal's reason says so. Why not ``bohb``: after the
   supernet and the derived trial (1.25 FTE) a one-shot study's budget is usually small, and
   ``bohb``'s first bracket finishes a full-length trial only 2.17 FTE later, ``one_epoch``'s
   first round 1.75 FTE later; on the tabular example that reached ``bohb``'s 20-FTE best + 1
   point within 3 FTE in 6 of 10 seeds against 4 of 10, and by 6 FTE the two end level
   (docs/benchmarks.md).

When the supernet fails, or reports a collapse that robustness could not remedy, or the
derived trial fails, the whole budget left goes to ``fallback`` (``bohb`` by default) over
the whole space, architecture included, and the proposals' reason says why: the fallback is
a decision in the log like any other. It starts its own search: outer-search trials that ran
beside a derived trial that then failed (several workers) stay in the view it decides on,
but it does not continue them.

Pure like every optimizer: the phase and the pinned architecture are read from the trials
in the view (the supernet's ``oneshot.*`` metrics), nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from metaml.core.records import ONESHOT_KEY, Proposal, TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers.base import Optimizer
from metaml.space import Categorical, Constant, Int, Space
from metaml.spending import own_trials

DEPTH, WIDTH, ACTIVATION, BACKBONE = "backbone.mlp.depth", "backbone.mlp.width", "activation", "backbone"
#: The architecture each built-in pipeline's supernet relaxes, by the backbone choice it lives in.
ARCHITECTURES = {
    "mlp": (DEPTH, WIDTH, ACTIVATION),  # the tabular pipeline
    "cnn": ("backbone.cnn.convs", "backbone.cnn.width", "kernel_size", ACTIVATION),  # the vision pipeline
}
#: The ``info`` key that marks a one-shot search's trials (``supernet``, ``derived``).
ROLE = ONESHOT_KEY
SELECTIONS = ("perturbation", "argmax")
#: An Int with at most this many values is relaxed over all of them (a depth); a wider one over ``widths``.
MAX_INTEGERS = 8
#: The share of the full fidelity the supernet trains for, unless ``supernet_fidelity`` says otherwise.
SUPERNET_SHARE = 0.25
#: The fewest whole steps a supernet trains when the fidelity allows: the failure signs compare an
#: epoch with the two before it (``metaml.pipelines.oneshot_health``), so a shorter one could see none.
MIN_SUPERNET_STEPS = 3


def candidates(space: Space, architecture: Sequence[str] | None = None, widths: int = 4) -> dict[str, list[Any]]:
    """The values the supernet relaxes, for each architecture choice the space searches.

    ``architecture`` names the parameters (default: those of the built-in supernet that fits
    the space's backbone: the vision CNN's for a 'cnn' backbone without 'mlp', else the MLP's). An Int takes every integer of its range when it has at most
    ``MAX_INTEGERS`` of them (a depth), else ``widths`` values spread evenly on a log scale
    (a width); a categorical takes every choice. Anything else, or nothing, is refused.
    """
    explicit = architecture is not None
    if architecture is not None:
        names = list(architecture)
    else:
        kind = _backbone_kind(space)
        names = [n for n in ARCHITECTURES[kind] if n in space.parameters]
    out: dict[str, list[Any]] = {}
    for name in names:
        param = space.parameters.get(name)
        if param is None:
            raise OptimizerError(f"oneshot: the architecture parameter {name!r} is not in the space")
        if isinstance(param, Int) and param.upper > param.lower:
            lo, hi = int(param.lower), int(param.upper)
            if hi - lo + 1 <= MAX_INTEGERS:
                out[name] = list(range(lo, hi + 1))
            else:
                out[name] = sorted({int(round(v)) for v in np.geomspace(lo, hi, max(2, int(widths)))})
        elif isinstance(param, Categorical) and len(param.choices) > 1:
            out[name] = list(param.choices)
        elif explicit:
            raise OptimizerError(f"oneshot: {name!r} is not a searched integer or categorical; "
                                 "one-shot search relaxes discrete architecture choices")  # fmt: skip
    if not out:
        raise OptimizerError(
            "oneshot: the space searches no architecture choice one-shot search can relax "
            f"({', '.join(ARCHITECTURES['mlp'])} of the tabular pipeline, {', '.join(ARCHITECTURES['cnn'])} of the "
            "vision pipeline, or name them with architecture: [...]); "
            "use bohb or another black-box optimizer"
        )
    return out


def _black_box(role: str, spec: str | Mapping[str, Any]) -> tuple[str, str | dict[str, Any]]:
    """(name, spec as stored) of ``then`` or ``fallback``: a name, or a mapping with its settings
    (``{name: one_epoch, per_round: 5}``; one without settings is stored as the bare name)."""
    from metaml.optimizers.registry import parse_spec  # late: the registry imports this module

    name, settings = parse_spec(spec)
    if name in (OneShot.name, "auto"):
        raise OptimizerError(f"oneshot: {role} must be a black-box optimizer, not {name!r}")
    return name, ({"name": name, **settings} if settings else name)


def _backbone_kind(space: Space) -> str:
    """Which built-in supernet fits the space: the vision CNN's if the space has a 'cnn' backbone, else the MLP's."""
    backbone = space.parameters.get(BACKBONE)
    choices = list(backbone.choices) if isinstance(backbone, Categorical) else (
        [backbone.value] if isinstance(backbone, Constant) else [])  # fmt: skip
    if "cnn" in choices and "mlp" not in choices:
        return "cnn"
    if choices and "mlp" not in choices:
        raise OptimizerError(f"oneshot: the space's backbone choices {choices} have neither 'mlp' (tabular) nor "
                             "'cnn' (vision); one-shot search relaxes those architectures")  # fmt: skip
    return "mlp"


def candidates_of(supernet: TrialRecord) -> list[str]:
    """The architecture parameters a supernet trial relaxed (as its proposal named them)."""
    return list(supernet.info.get("candidates") or {})


def activating(space: Space, names: Sequence[str]) -> dict[str, Any]:
    """The parent values that switch every parameter of ``names`` on (the first value each condition allows)."""
    out: dict[str, Any] = {}
    pending = list(names)
    while pending:
        for parent, values in space.conditions.get(pending.pop(), {}).items():
            if parent in out and out[parent] not in values:
                raise OptimizerError(f"oneshot: the architecture parameters need {parent!r} to be both "
                                     f"{out[parent]!r} and one of {list(values)}")  # fmt: skip
            if parent not in out:
                out[parent] = values[0]
                pending.append(parent)
    return out


def admissible(param: Any, value: Any) -> Any:
    """``value`` if ``param`` allows it, else the nearest value it does (an Int's bound, a categorical's default)."""
    if isinstance(param, Int):
        return int(min(max(int(value), int(param.lower)), int(param.upper)))
    if isinstance(param, Categorical) and value not in param.choices:
        return param.default()
    return value


class OneShot(Optimizer):
    """A supernet trial, its derived architecture, then ``then`` over the outer choices (or everything, on failure)."""

    name = "oneshot"

    def __init__(
        self,
        space: Space,
        objectives: Sequence[Objective],
        seed: int = 0,
        then: str | Mapping[str, Any] | None = None,
        robust: bool = True,
        selection: str = "perturbation",
        arch_lr: float = 3e-3,
        widths: int = 4,
        architecture: Sequence[str] | None = None,
        supernet_fidelity: float = SUPERNET_SHARE,
        fallback: str | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(space, objectives, seed)
        if isinstance(supernet_fidelity, bool) or not isinstance(supernet_fidelity, (int, float)) \
                or not 0 < float(supernet_fidelity) <= 1:  # fmt: skip
            raise OptimizerError(f"oneshot: supernet_fidelity is a share of the full fidelity in (0, 1], "
                                 f"got {supernet_fidelity}")  # fmt: skip
        if selection not in SELECTIONS:
            raise OptimizerError(f"oneshot: selection must be one of {', '.join(SELECTIONS)}, got {selection!r}")
        if not arch_lr > 0:
            raise OptimizerError(f"oneshot: arch_lr must be > 0, got {arch_lr}")
        from metaml.optimizers.registry import make_optimizer  # late: the registry imports this module

        # the defaults need a fidelity; a space without one gets bo for both
        has_fidelity = space.fidelity is not None
        self.then, self.then_spec = _black_box("then", then if then is not None else "one_epoch" if has_fidelity else "bo")
        self.fallback, self.fallback_spec = _black_box(
            "fallback", fallback if fallback is not None else "bohb" if has_fidelity else "bo")  # fmt: skip
        self.architecture_names = None if architecture is None else [str(n) for n in architecture]
        self.candidates = candidates(space, self.architecture_names, widths)
        self.switch_on = activating(space, list(self.candidates))
        self.robust, self.selection = bool(robust), str(selection)
        self.arch_lr, self.widths = float(arch_lr), int(widths)
        self.supernet_fidelity = float(supernet_fidelity)
        self.inner = make_optimizer(self.then_spec, space, self.objectives, seed)
        self.rescue = make_optimizer(self.fallback_spec, space, self.objectives, seed)
        for role, optimizer in (("then", self.inner), ("fallback", self.rescue)):
            if optimizer.full_fidelity != self.full_fidelity:
                raise OptimizerError(f"oneshot: {role}'s full fidelity ({optimizer.full_fidelity}) is not the "
                                     f"study's ({self.full_fidelity}), at which the derived architecture is trained; "
                                     f"narrow the space's fidelity instead of {role}'s max_fidelity")  # fmt: skip

    @property
    def settings(self) -> dict[str, Any]:
        return {"then": self.then_spec, "robust": self.robust, "selection": self.selection, "arch_lr": self.arch_lr,
                "widths": self.widths, "architecture": self.architecture_names,
                "supernet_fidelity": self.supernet_fidelity, "fallback": self.fallback_spec}  # fmt: skip

    @staticmethod
    def stored(settings: Mapping[str, Any]) -> dict[str, Any]:
        """A study stored before ``fallback`` existed fell back to its ``then``: it still does."""
        out = dict(settings)
        if "then" in out and "fallback" not in out:
            out["fallback"] = out["then"]
        return out

    @property
    def first_objective_only(self) -> bool:
        # the search the study is for; the fallback runs only when the one-shot search failed
        return self.inner.first_objective_only

    # ------------------------------------------------------------------ the phases
    def _phase(self, view: StudyView) -> tuple[TrialRecord | None, TrialRecord | None, str | None]:
        """(the supernet, the derived trial, why the one-shot result cannot be used), as far as the view has them.

        The failure is only read once the supernet has ended (None before).
        """
        trials = own_trials(view.trials)
        supernet = next((t for t in trials if t.info.get(ROLE) == "supernet"), None)
        derived = next((t for t in trials if t.info.get(ROLE) == "derived"), None)
        if supernet is None or supernet.status in (TrialStatus.PENDING, TrialStatus.RUNNING):
            return supernet, derived, None
        return supernet, derived, self.failure(supernet, derived)

    def propose(self, view: StudyView) -> Proposal | None:
        supernet, derived, failure = self._phase(view)
        if supernet is None:
            return self._supernet()
        if supernet.status in (TrialStatus.PENDING, TrialStatus.RUNNING):
            return None  # the next decisions all depend on it
        if failure is None and derived is None:
            return self._derived(supernet)
        if failure is not None:
            proposal = self.rescue.propose(self._inner_view(view))
            return None if proposal is None else replace(
                proposal, reason=f"oneshot fell back to {self.fallback} over the whole space ({failure}): "
                                 f"{proposal.reason}")  # fmt: skip
        # the outer search may start while the derived trial runs: it is pinned to the same architecture
        pins = self.architecture(supernet)
        proposal = self.inner.propose(self._inner_view(view))
        if proposal is None:
            return None
        config = self.pinned(proposal.config, pins)
        parent = None if proposal.continue_from is None else view.trial(proposal.continue_from)
        if parent is not None and parent.config != config:
            proposal = replace(proposal, continue_from=None)  # another architecture's checkpoint is no start
        return replace(proposal, config=config, reason=f"{self.then} over the outer choices, architecture from the "
                                                        f"supernet (trial {supernet.number}): {proposal.reason}")  # fmt: skip

    def should_stop(self, view: StudyView, trial: TrialRecord) -> str | None:
        if trial.info.get(ROLE) in ("supernet", "derived"):
            return None  # both run to their fidelity: the search depends on them
        return self._searching(view).should_stop(self._inner_view(view), trial)

    def tell(self, trial: TrialRecord) -> None:
        if trial.info.get(ROLE) != "supernet":
            self.inner.tell(trial)
            self.rescue.tell(trial)

    def _searching(self, view: StudyView) -> Optimizer:
        """The optimizer the search after the derived trial is in: ``then``, or ``fallback`` once the one-shot failed."""
        return self.inner if self._phase(view)[2] is None else self.rescue

    # ------------------------------------------------------------------ reading the supernet
    @staticmethod
    def failure(supernet: TrialRecord, derived: TrialRecord | None) -> str | None:
        """Why the one-shot result cannot be used (the fallback's reason), or None."""
        if supernet.status is not TrialStatus.COMPLETED:
            return f"the supernet (trial {supernet.number}) {supernet.status.value}: {supernet.error or 'no result'}"
        metrics = supernet.metrics or {}
        if metrics.get("oneshot.unremedied"):
            return f"the supernet (trial {supernet.number}) collapsed and robustness could not remedy it"
        if not all(f"oneshot.{n}" in metrics for n in candidates_of(supernet)):
            return f"the supernet (trial {supernet.number}) reported no architecture"
        if derived is not None and derived.status in (TrialStatus.FAILED, TrialStatus.LOST):
            return f"the derived architecture (trial {derived.number}) {derived.status.value}: {derived.error}"
        return None

    def architecture(self, supernet: TrialRecord) -> dict[str, Any]:
        """The derived architecture the supernet reported, as values of this optimizer's space.

        Each choice is read as an index into the candidates the supernet itself relaxed (its
        proposal's ``info``), so a space steered since (a narrowed width, a pinned activation)
        reads the same architecture; a value the steered space no longer allows becomes the
        nearest one it does, and a pinned parameter takes its pin (``pinned``).
        """
        metrics = supernet.metrics or {}
        relaxed: dict[str, list[Any]] = dict(supernet.info.get("candidates") or {})
        out: dict[str, Any] = dict(self.switch_on)
        for name, values in self.candidates.items():
            index = int(metrics[f"oneshot.{name}"])  # the supernet reports each choice as its index in the candidates
            found = relaxed.get(name, values)
            out[name] = admissible(self.space.parameters[name], found[index] if index < len(found) else values[0])
        return out

    # ------------------------------------------------------------------ proposals
    def _supernet(self) -> Proposal:
        config = self.pinned(self.space.default(), self.switch_on)
        info = {ROLE: "supernet", "candidates": self.candidates, "robust": self.robust,
                "selection": self.selection, "arch_lr": self.arch_lr}  # fmt: skip
        what = ", ".join(f"{n} {v}" for n, v in self.candidates.items())
        fidelity = self.supernet_steps()
        length = "" if fidelity is None or fidelity == self.full_fidelity else f" for {fidelity:g} of {self.full_fidelity:g}"
        return Proposal(config, fidelity, reason=f"oneshot: train the supernet{length} over {what}", info=info)

    def supernet_steps(self) -> float | None:
        """The supernet's fidelity: ``supernet_fidelity`` of the full one, within the fidelity's bounds.

        An integer fidelity (epochs) rounds up to a whole step and gives at least
        ``MIN_SUPERNET_STEPS`` where the full fidelity has that many; None without a fidelity.
        """
        f = self.space.fidelity
        if f is None:
            return None
        steps = self.supernet_fidelity * float(f.upper)
        if f.is_int:
            steps = max(float(math.ceil(steps - 1e-9)), float(MIN_SUPERNET_STEPS))
        return float(min(max(steps, float(f.lower)), float(f.upper)))

    def _derived(self, supernet: TrialRecord) -> Proposal:
        arch = self.architecture(supernet)
        config = self.pinned(supernet.config, arch)
        shown = ", ".join(f"{n}={v}" for n, v in arch.items() if n in self.candidates)
        return Proposal(config, self.full_fidelity, reason=f"oneshot: train the architecture the supernet "
                        f"(trial {supernet.number}) derived: {shown}", info={ROLE: "derived", "supernet": supernet.number})  # fmt: skip

    def pinned(self, config: dict[str, Any], pins: dict[str, Any]) -> dict[str, Any]:
        """``config`` with ``pins`` set, completed with defaults where a pin switched a branch on, and valid."""
        wanted = {**config, **pins}
        default = {n: p.default() for n, p in self.space.searchable.items() if not isinstance(p, Constant)}  # type: ignore[union-attr]
        out: dict[str, Any] = {}
        for name in self.space.order:
            if not self.space.is_active(name, out):
                continue
            param = self.space.parameters[name]
            out[name] = param.value if isinstance(param, Constant) else wanted.get(name, default[name])  # type: ignore[union-attr]
        return self.space.validate(out)

    def _inside(self, view: StudyView) -> frozenset[int]:
        """The trials inside the steered space, and the supernet always: a pin on its architecture does not undo it.

        The supernet's configuration holds the defaults its relaxed choices started from, so a
        pin would put it outside the steered space and start a second supernet; its result
        stays valid, and the pin applies to the architecture read from it (a derived trial
        outside the pin is left out, so the derived architecture is trained again with the pin).
        """
        supernets = {t.number for t in view.trials if t.info.get(ROLE) == "supernet"}
        return super()._inside(view) | supernets

    def _inner_view(self, view: StudyView) -> StudyView:
        """The view without the supernet: its result is not a configuration's, so no model may learn from it."""
        return view.restricted({t.number for t in view.trials if t.info.get(ROLE) != "supernet"})
