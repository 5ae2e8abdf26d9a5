"""``transfer``: a base optimizer (``bohb``, ``freeze_thaw``, ...) that learns from earlier studies.

The earlier studies come on the view (``view.warm_start``: frozen at the study's creation).
After the portfolio the base optimizer takes every decision of *when* (what to start, promote,
continue or stop); transfer then changes only *which* configuration a new trial starts with.
The two ways:

* **portfolio**: before the base starts anything, a greedy portfolio of the earlier studies'
  best configurations (``transfer_portfolio``) runs as one successive-halving bracket of its
  own on the base's rungs (``bohb``'s ladder; for ``freeze_thaw`` one with eta 3 from its first
  step): every member at the lowest fidelity, the best ``1/eta`` continued from their
  checkpoints rung by rung, and at least the best one to the full fidelity. So the earlier
  studies' advice is tried cheaply first and a good full run comes early; the base's models
  learn from these results like any other;
* **model-level (RGPE)**: after the portfolio, each new configuration is, with probability the
  earlier studies' total RGPE weight (``transfer_models``; at most ``max_share``), the best
  candidate of the weighted ensemble of the earlier studies' models and this study's own;
  otherwise the base's own proposal stands.

Negative transfer is bounded: a misleading earlier study loses its weight once this study's
results contradict it; whatever the weights, the base decides at least ``1 - max_share`` of
the new configurations after the portfolio and every promotion; and the portfolio costs at most
one bracket (about 1.4 FTE on LCBench), on results measured on this study. Every proposal's
``info["transfer"]`` records the weights it was decided with, so the decision log shows how they
moved over time. Like any
optimizer it is a pure function of the seed, the history and the view's earlier studies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from metaml.core.records import Proposal, TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.core.warm_start import PriorStudy
from metaml.errors import OptimizerError, SpaceError
from metaml.objectives import Objective
from metaml.optimizers.base import Optimizer
from metaml.optimizers.rungs import fidelity_ladder
from metaml.optimizers.transfer_models import (
    MIN_OWN,
    Points,
    Weights,
    features,
    fit_forest,
    rgpe_weights,
    source_points,
)
from metaml.optimizers.transfer_portfolio import greedy_portfolio, top_configs
from metaml.space import Space

METHODS = ("both", "portfolio", "rgpe")
#: The weights are decided again every this many trials (on the trials before the cut).
REWEIGH = 5
#: Uniform candidates the ensemble scores per model-level proposal (plus neighbours of the earlier bests).
N_CANDIDATES = 256


class Transfer(Optimizer):
    """Warm-started ``base``: a portfolio of earlier bests first, then RGPE-weighted model-level transfer."""

    name = "transfer"

    def __init__(
        self,
        space: Space,
        objectives: Sequence[Objective],
        seed: int = 0,
        base: str | Mapping[str, Any] = "bohb",
        method: str = "both",
        portfolio: int | None = None,
        max_share: float = 0.8,
    ) -> None:
        super().__init__(space, objectives, seed)
        from metaml.optimizers.registry import make_optimizer  # late: the registry imports this module

        base_name = base.get("name") if isinstance(base, Mapping) else base
        if base_name in (self.name, "auto") or not isinstance(base_name, str):
            raise OptimizerError(f"transfer: base must name another optimizer (bohb, freeze_thaw, ...), got {base!r}")
        if method not in METHODS:
            raise OptimizerError(f"transfer: method must be one of {', '.join(METHODS)}, got {method!r}")
        if portfolio is not None and (isinstance(portfolio, bool) or not isinstance(portfolio, int) or portfolio < 0):
            raise OptimizerError(f"transfer: portfolio must be a whole number >= 0 (or null: one per earlier study), "
                                 f"got {portfolio!r}")
        if isinstance(max_share, bool) or not isinstance(max_share, (int, float)) or not 0.0 <= max_share <= 1.0:
            raise OptimizerError(f"transfer: max_share must be in [0, 1], got {max_share!r}")
        self.base = dict(base) if isinstance(base, Mapping) else base
        self.inner = make_optimizer(self.base, space, self.objectives, seed)
        self.method, self.portfolio, self.max_share = method, portfolio, float(max_share)
        #: Earlier studies' forests by their identity and results: a speed-up only (each fit is seeded, so a rebuild is equal).
        self._forests: dict[tuple[Any, ...], Any] = {}
        self._portfolios: dict[tuple[Any, ...], list[tuple[dict[str, Any], str]]] = {}
        self._weighed: tuple[Any, tuple[Weights, Any]] | None = None

    @property
    def settings(self) -> dict[str, Any]:
        return {"base": self.base, "method": self.method, "portfolio": self.portfolio, "max_share": self.max_share}

    @property
    def full_fidelity(self) -> float | None:
        return self.inner.full_fidelity

    @property
    def first_objective_only(self) -> bool:
        return True  # the portfolio and the weights rank on the first objective

    def tell(self, trial: TrialRecord) -> None:
        self.inner.tell(trial)

    def should_stop(self, view: StudyView, trial: TrialRecord) -> str | None:
        return self.inner.should_stop(view, trial)

    def _within_space(self, sources: Sequence[PriorStudy]) -> list[PriorStudy]:
        """The earlier studies' observations that lie in this optimizer's space (all of them, unless experts
        pinned or narrowed it since: a steered transfer learns only from the region still searched)."""
        key = tuple(_key(s) for s in sources)
        cache: dict[tuple[Any, ...], list[PriorStudy]] = self.__dict__.setdefault("_within", {})
        if key not in cache:
            cache[key] = [replace(s, observations=tuple(o for o in s.observations if _valid(self.space, o.config)))
                          for s in sources]  # fmt: skip
        return cache[key]

    # ----------------------------------------------------------------------- ask
    def propose(self, view: StudyView) -> Proposal | None:
        sources = [s for s in self._within_space(view.warm_start) if any(math.isfinite(o.loss) for o in s.observations)]
        if sources and self.method in ("both", "portfolio"):
            step = self._portfolio_step(view, sources)
            if isinstance(step, Proposal):
                return step
        proposal = self.inner.propose(view)
        if proposal is None or proposal.continue_from is not None:
            return proposal
        if not sources:
            return replace(proposal, reason=f"{proposal.reason} (transfer: no earlier study to learn from)")
        if self.method == "portfolio":
            return proposal
        history = view.trials
        weights, own_model = self._weights(sources, history)
        labels = _labels(sources)
        by_source = dict(zip(labels, (round(w, 4) for w in weights.sources), strict=True))
        record: dict[str, Any] = {"method": "rgpe", "weights": by_source, "this_study": round(weights.own, 4),
                                  "pairs": weights.pairs, "dropped": [labels[i] for i in weights.dropped]}
        share = min(self.max_share, weights.share)
        said = ", ".join(f"{k} {v:.2f}" for k, v in by_source.items())
        rng = self.rng(history, 7717)
        if rng.random() >= share:
            record["method"] = "base"
            return replace(proposal, reason=f"{proposal.reason} (transfer weights {said}, this study "
                                            f"{weights.own:.2f}: the base's proposal stands)",
                           info={**proposal.info, "transfer": record})
        config = self._ensemble_best(sources, weights, own_model, [t.config for t in history], rng)
        if config is None:
            return proposal
        return Proposal(config=self.space.validate(config), fidelity=proposal.fidelity, continue_from=None,
                        reason=f"transfer: the RGPE ensemble's best candidate (weights {said}, this study "
                               f"{weights.own:.2f}), in place of the base's new configuration ({proposal.reason})",
                        info={**proposal.info, "transfer": record})

    # ----------------------------------------------------------------- portfolio
    def portfolio_size(self, sources: Sequence[PriorStudy]) -> int:
        """Members of the portfolio: ``portfolio``, else one per earlier study (3 to 10)."""
        return self.portfolio if self.portfolio is not None else min(10, max(3, len(sources)))

    def ladder(self) -> tuple[tuple[float | None, ...], float]:
        """The portfolio's rungs (the base's own where it has a ladder) and its eta."""
        inner: Any = self.inner
        if isinstance(getattr(inner, "ladder", None), tuple):
            return inner.ladder, float(inner.eta)
        fid, full = self.space.fidelity, self.full_fidelity
        if fid is None or full is None:
            return (None,), 3.0
        return fidelity_ladder(float(fid.lower), float(full), 3.0, fid.is_int), 3.0

    def members(self, sources: Sequence[PriorStudy]) -> list[tuple[dict[str, Any], str]]:
        """The greedy portfolio of the earlier studies' best configurations (computed once per set of studies)."""
        key = tuple(_key(s) for s in sources)
        if key not in self._portfolios:
            size = self.portfolio_size(sources)
            self._portfolios[key] = greedy_portfolio(
                sources, size, lambda i, configs: self._predict(sources[i], configs, 1.0))
        return self._portfolios[key]

    def _portfolio_step(self, view: StudyView, sources: Sequence[PriorStudy]) -> Proposal | str:
        """Successive halving over the portfolio, from the lowest rung: a proposal, ``wait`` or ``done``."""
        members = self.members(sources)
        if not members:
            return "done"
        ladder, eta = self.ladder()
        mine = [t for t in view.trials if (t.info.get("transfer") or {}).get("method") == "portfolio"]
        rungs: dict[int, list[TrialRecord]] = {}
        for t in mine:
            rungs.setdefault(int(t.info["transfer"]["rung"]), []).append(t)
        started = {int(t.info["transfer"]["member"]) for t in rungs.get(0, [])}
        k = len(members)
        for i, (config, origin) in enumerate(members):
            if i not in started:
                return Proposal(config=self.space.validate(config), fidelity=ladder[0],
                                reason=f"transfer: portfolio member {i + 1} of {k}, a best configuration of "
                                       f"{origin!r}, tried first at {ladder[0]}",
                                info={"transfer": {"method": "portfolio", "member": i, "of": k, "from": origin,
                                                   "rung": 0}})
        first = self.objectives[0]
        for r in range(len(ladder) - 1):
            pool = rungs.get(r, [])
            if not all(t.status.finished for t in pool):
                return "wait"
            ranked = sorted((t for t in pool if t.status is TrialStatus.COMPLETED and _finite(t, first.name)),
                            key=lambda t: (first.sign * float(t.metrics[first.name]), t.number))  # type: ignore[index]
            done = {t.continue_from for t in rungs.get(r + 1, [])}
            for position, parent in enumerate(ranked[: max(1, math.ceil(k / eta ** (r + 1)))]):
                if parent.number not in done:
                    member = int(parent.info["transfer"]["member"])
                    return Proposal(config=dict(parent.config), fidelity=ladder[r + 1], continue_from=parent.number,
                                    reason=f"transfer: portfolio member {member + 1} (rank {position + 1} of "
                                           f"{len(pool)} at {ladder[r]}) continues trial {parent.number} to "
                                           f"{ladder[r + 1]}",
                                    info={"transfer": {"method": "portfolio", "member": member, "of": k,
                                                       "from": parent.info["transfer"].get("from"), "rung": r + 1}})
        return "done" if all(t.status.finished for t in mine) else "wait"

    # -------------------------------------------------------------------- models
    def _forest(self, source: PriorStudy) -> Any:
        key = _key(source)
        if key not in self._forests:
            self._forests[key] = fit_forest(source_points(self.space, source), self.seed)
        return self._forests[key]

    def _predict(self, source: PriorStudy, configs: Sequence[Mapping[str, Any]], fraction: float) -> np.ndarray:
        X = features(self.space, [dict(c) for c in configs], [fraction] * len(configs))
        return np.asarray(self._forest(source).predict(X), dtype=float)

    def _own_points(self, history: Sequence[TrialRecord]) -> Points:
        full = self.full_fidelity
        rows = []
        first = self.objectives[0]
        for t in history:
            value = (t.metrics or {}).get(first.name)
            if t.status is not TrialStatus.COMPLETED or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            step = t.end_step if t.end_step is not None else t.fidelity
            fraction = 1.0 if full is None or step is None else min(1.0, float(step) / float(full))
            rows.append((t.config, fraction, first.sign * float(value)))
        X = features(self.space, [dict(c) for c, _, _ in rows], [f for _, f, _ in rows])
        return Points(X, np.array([v for _, _, v in rows], dtype=float), np.array([f for _, f, _ in rows]))

    def _weights(self, sources: Sequence[PriorStudy], history: Sequence[TrialRecord]) -> tuple[Weights, Any]:
        """RGPE's weights and this study's own forest, decided on the trials before the last multiple of ``REWEIGH``.

        Weighing after every trial would refit a forest per proposal; on the history cut at a
        multiple of ``REWEIGH`` trials the answer is the same for the next few proposals, so it is
        memoized on that prefix's state (a speed-up only: the prefix decides it).
        """
        cut = list(history[: len(history) // REWEIGH * REWEIGH])
        key = (tuple(_key(s) for s in sources), tuple((t.number, t.status.value, t.end_step) for t in cut))
        if self._weighed is None or self._weighed[0] != key:
            self._weighed = (key, self._weigh(sources, cut))
        return self._weighed[1]

    def _weigh(self, sources: Sequence[PriorStudy], history: Sequence[TrialRecord]) -> tuple[Weights, Any]:
        points = self._own_points(history)
        preds = [np.asarray(self._forest(s).predict(points.X), dtype=float) if len(points.y) else np.zeros(0)
                 for s in sources]
        own_model, own_pred = None, None
        if len(points.y) >= MIN_OWN:
            own_model = fit_forest(points, self.seed, oob=True)
            own_pred = np.asarray(own_model.oob_prediction_, dtype=float)
        weights = rgpe_weights(preds, own_pred, points, self.rng(history, 4243))
        return weights, own_model

    def _ensemble_best(self, sources: Sequence[PriorStudy], weights: Weights, own_model: Any,
                       tried: Sequence[Mapping[str, Any]], rng: np.random.Generator) -> dict[str, Any] | None:
        candidates = [self.space.sample(rng) for _ in range(N_CANDIDATES)]
        for s, w in zip(sources, weights.sources, strict=True):
            if w <= 0:
                continue
            for c in top_configs(s, 3):
                x = self.space.encode(c)
                for _ in range(8):
                    candidates.append(self.space.decode(np.clip(x + rng.normal(0.0, 0.05, size=x.shape), 0.0, 1.0)))
        candidates = [c for c in candidates if c not in tried]
        if not candidates:
            return None
        score = np.zeros(len(candidates))
        parts = [(w, self._predict(s, candidates, 1.0)) for s, w in zip(sources, weights.sources, strict=True) if w > 0]
        if own_model is not None and weights.own > 0:
            X = features(self.space, candidates, [1.0] * len(candidates))
            parts.append((weights.own, np.asarray(own_model.predict(X), dtype=float)))
        for w, pred in parts:
            spread = float(np.std(pred))
            score += w * (pred - float(np.mean(pred))) / (spread if spread > 0 else 1.0)
        return candidates[int(np.argmin(score))]


def _key(source: PriorStudy) -> tuple[Any, ...]:
    """What a memo of an earlier study's model is keyed by: its identity and what it measured."""
    return (source.name, source.uid, source.store, hash(tuple((o.trial, o.fraction, o.losses)
                                                                for o in source.observations)))


def _finite(t: TrialRecord, name: str) -> bool:
    value = (t.metrics or {}).get(name)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _labels(sources: Sequence[PriorStudy]) -> list[str]:
    names = [s.name for s in sources]
    return names if len(set(names)) == len(names) else [s.label for s in sources]


def _valid(space: Space, config: Mapping[str, Any]) -> bool:
    try:
        space.validate(config)
    except SpaceError:
        return False
    return True
