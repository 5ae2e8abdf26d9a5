"""Where a number on the front cannot carry a decision, said in words: small groups, degenerate models, ties.

Read from what the store holds with each trial (``TrialRecord.details``: a fairness
metric's group breakdown, each metric's bootstrap interval) and with each test evaluation:

- ``small_groups``: a group of a split holds fewer rows than the metric's
  ``min_group_size`` (default 30), so its rate moves by a large step when one row changes,
  and a gap it sets says little;
- ``degenerate``: the models that meet a fairness limit predict (nearly) one class for
  everyone, which makes every group's rate equal without being a useful model;
- ``within_uncertainty``: two front members whose intervals overlap on every objective, so
  the split cannot tell which is better on any of them;
- ``limit_price`` (a note rather than a warning): what each limit costs on the first
  objective, and whether that cost is beyond the uncertainty.

``metaml run`` (its banner and its end), ``metaml pareto``, the report and the model card
all say the same caveats, from ``front_caveats``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from metaml.core.records import TrialRecord
from metaml.final_evaluation import stored_details
from metaml.objectives import Objective
from metaml.study import Study

#: A model that predicts the positive class for at most this share of rows, or at least 1 minus it, is
#: near-constant: it meets a parity limit by treating everyone alike, not by being fair and accurate.
DEGENERATE_SHARE = 0.02
#: At most this many pairs of indistinguishable front members are named.
MAX_PAIRS = 5


@dataclass(frozen=True)
class Caveat:
    """One reason a front number cannot carry a decision: its kind, the sentence, and the trials it is about."""

    kind: str
    message: str
    trials: tuple[int, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "trials": list(self.trials)}


def front_caveats(
    objectives: Sequence[Objective],
    final: Sequence[TrialRecord],
    front: Sequence[TrialRecord],
    test_details: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[Caveat]:
    """Every caveat on the study's results: ``final`` are its full-fidelity completed trials, ``front`` its front."""
    out: list[Caveat] = []
    out += small_group_caveats(_breakdowns(final[:1] if not front else front[:1], "validation"))
    test = [d for n in sorted(test_details or {}) for d in [dict((test_details or {})[n])] if d]
    if test:
        out += small_group_caveats(_test_breakdowns(test[0]))
    out += degenerate_caveats(objectives, final, front)
    out += uncertainty_caveats(objectives, front)
    out += limit_prices(objectives, final)
    return out


def limit_prices(objectives: Sequence[Objective], final: Sequence[TrialRecord]) -> list[Caveat]:
    """What each limit costs on the first objective, in plain words, and whether it is beyond the uncertainty.

    Compares the best first-objective value among the trials that meet the limit with the
    best among all full-fidelity trials (``kind`` ``limit_price``: a note, not a warning).
    """
    if len(objectives) < 2:
        return []
    first = objectives[0]
    out = []
    for o in objectives[1:]:
        if o.limit is None or not final:
            continue
        best_all = min(final, key=lambda t: first.sign * (t.metrics or {})[first.name])
        meeting = [t for t in final if o.feasible((t.metrics or {})[o.name]) and not _degenerate(t, o.name)]
        bound = f"{o.name} {'<=' if o.goal == 'min' else '>='} {o.limit:g}"
        if not meeting:
            out.append(Caveat("limit_price", (
                f"no model that meets {bound} was found, other than near-constant ones (of {len(final)} full runs); "
                f"the best without the limit is trial {best_all.number} ({first.name} "
                f"{_value(best_all, first.name)}, {o.name} {_value(best_all, o.name)})"
            ), (best_all.number,)))
            continue
        best_ok = min(meeting, key=lambda t: first.sign * (t.metrics or {})[first.name])
        if best_ok.number == best_all.number:
            out.append(Caveat("limit_price", (
                f"the limit {bound} costs nothing here: trial {best_ok.number}, the best on {first.name}, meets it"
            ), (best_ok.number,)))
            continue
        gap = abs((best_ok.metrics or {})[first.name] - (best_all.metrics or {})[first.name])
        a, b = interval_of(best_ok, first.name), interval_of(best_all, first.name)
        beyond = "" if a is None or b is None else (
            " (beyond the uncertainty: their intervals do not overlap)" if a[0] > b[1] or b[0] > a[1]
            else " (within the uncertainty: their intervals overlap, so the split cannot confirm the cost)"
        )
        out.append(Caveat("limit_price", (
            f"meeting {bound} costs {gap:.3g} of {first.name}: the best model that meets it, trial {best_ok.number}, "
            f"has {_value(best_ok, first.name)}, the best without the limit, trial {best_all.number}, "
            f"{_value(best_all, first.name)}{beyond}"
        ), (best_ok.number, best_all.number)))
    return out


def _value(trial: TrialRecord, name: str) -> str:
    value = (trial.metrics or {}).get(name)
    found = interval_of(trial, name)
    text = "?" if value is None else f"{value:.3g}"
    return text if found is None else f"{text} [{found[0]:.3g}, {found[1]:.3g}]"


def small_group_caveats(breakdowns: Iterable[tuple[str, str, Mapping[str, Any]]]) -> list[Caveat]:
    """For each (split, metric, breakdown): its groups under the minimum size, with their rows."""
    out = []
    for split, metric, breakdown in breakdowns:
        small = set(breakdown.get("small_groups") or [])
        if not small:
            continue
        rows = {g["group"]: int(g["n"]) for g in breakdown.get("groups", [])}
        named = ", ".join(f"{g!r} ({rows.get(g, '?')} rows)" for g in sorted(small, key=lambda g: rows.get(g, 0)))
        smallest = min(rows.get(g, 1) for g in small) or 1
        pair = breakdown.get("pair") or {}
        sets = {pair.get("low"), pair.get("high")} & small
        decided = (f"; the gap is set by {' and '.join(map(repr, sorted(map(str, sets))))}" if sets else "")
        out.append(Caveat("small_groups", (
            f"{metric} on the {split} split: group(s) {named} have fewer than {breakdown.get('min_group_size')} "
            f"rows, so one row changes a rate by up to 1/{smallest} = {1 / smallest:.2f}{decided}. Consider the "
            "'two_largest' or 'merge_below' group choice (docs/yaml.md)"
        )))
    return out


def degenerate_caveats(
    objectives: Sequence[Objective], final: Sequence[TrialRecord], front: Sequence[TrialRecord]
) -> list[Caveat]:
    """Fairness limits that only near-constant models meet, and front members that are near-constant."""
    out = []
    for o in objectives:
        if o.limit is None:
            continue
        meeting = [t for t in final if _fairness(t, o.name) is not None and o.feasible((t.metrics or {})[o.name])]
        if meeting and all(_degenerate(t, o.name) for t in meeting):
            out.append(Caveat("degenerate", (
                f"only near-constant models meet the limit {o.name} {'<=' if o.goal == 'min' else '>='} {o.limit:g}: "
                f"each of the {len(meeting)} trial(s) that meets it predicts one class for at least "
                f"{1 - DEGENERATE_SHARE:.0%} of the rows. The limit is met by treating everyone alike, not by a "
                "useful model: loosen it, compare other groups, or add a fairness intervention"
            ), tuple(t.number for t in meeting[:20])))
    flagged = sorted({t.number for t in front for o in objectives if _degenerate(t, o.name)})
    if flagged:
        out.append(Caveat("degenerate", (
            f"front trial(s) {', '.join(map(str, flagged))} predict one class for at least {1 - DEGENERATE_SHARE:.0%} "
            "of the validation rows: their fairness gap is small because they hardly discriminate at all"
        ), tuple(flagged)))
    return out


def uncertainty_caveats(objectives: Sequence[Objective], front: Sequence[TrialRecord]) -> list[Caveat]:
    """Pairs of front members whose intervals overlap on every objective (none when an objective has no interval)."""
    pairs: list[tuple[int, int]] = []
    ordered = sorted(front, key=lambda t: t.number)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if all(_overlap(a, b, o.name) for o in objectives):
                pairs.append((a.number, b.number))
    if not pairs:
        return []
    named = ", ".join(f"{a} and {b}" for a, b in pairs[:MAX_PAIRS]) + (
        f" (and {len(pairs) - MAX_PAIRS} more pairs)" if len(pairs) > MAX_PAIRS else ""
    )
    level = _level(ordered, objectives[0].name)
    return [Caveat("within_uncertainty", (
        f"front trials {named} are within each other's {level:.0%} intervals on every objective "
        f"({', '.join(o.name for o in objectives)}): the validation split cannot clearly tell them apart"
    ), tuple(sorted({n for p in pairs for n in p})))]


def interval_of(trial: TrialRecord, name: str) -> tuple[float, float] | None:
    """The (low, high) bootstrap interval stored for a trial's metric, or None."""
    found = (trial.details.get("intervals") or {}).get(name) or {}
    if "low" in found and "high" in found:
        return float(found["low"]), float(found["high"])
    return None


def _breakdowns(trials: Sequence[TrialRecord], split: str) -> list[tuple[str, str, Mapping[str, Any]]]:
    """The validation split is the same for every trial: one trial's breakdowns describe its groups."""
    return [(split, m, b) for t in trials for m, b in (t.details.get("fairness") or {}).items()]


def _test_breakdowns(details: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    return [("test", m, b) for m, b in (details.get("fairness") or {}).items()]


def _fairness(trial: TrialRecord, metric: str) -> Mapping[str, Any] | None:
    found = (trial.details.get("fairness") or {}).get(metric)
    return found if isinstance(found, Mapping) else None


def _degenerate(trial: TrialRecord, metric: str) -> bool:
    breakdown = _fairness(trial, metric)
    if breakdown is None or breakdown.get("positive_rate") is None:
        return False
    share = float(breakdown["positive_rate"])
    return share <= DEGENERATE_SHARE or share >= 1.0 - DEGENERATE_SHARE


def _overlap(a: TrialRecord, b: TrialRecord, name: str) -> bool:
    ia, ib = interval_of(a, name), interval_of(b, name)
    return ia is not None and ib is not None and ia[0] <= ib[1] and ib[0] <= ia[1]


def _level(trials: Sequence[TrialRecord], name: str) -> float:
    for t in trials:
        found = (t.details.get("intervals") or {}).get(name) or {}
        if "level" in found:
            return float(found["level"])
    return 0.95


def study_caveats(study: Study, trials: Sequence[TrialRecord] | None = None) -> list[Caveat]:
    """``front_caveats`` of a study, from its store: its trials, its front, its test evaluation."""
    trials = study.trials() if trials is None else trials
    results = study.results(trials)
    front_numbers = {t.number for t in results.front}
    tested = {n: d for n, d in stored_details(study).items() if n in front_numbers}
    return front_caveats(study.objectives, results.final, results.front, tested)


def group_size_caveats(compared: Mapping[str, Mapping[str, Mapping[str, int]]], minimum: Mapping[str, int],
                       column: str) -> list[Caveat]:  # fmt: skip
    """Before any training: for each fairness metric and split, the compared groups under its minimum rows.

    ``compared[metric][split][group]`` are the rows of the groups the metric compares
    (``metaml.pipelines.groups.GroupSizes``).
    """
    out = []
    for metric, splits in compared.items():
        for split, groups in splits.items():
            least = minimum.get(metric, 30)
            small = {g: n for g, n in groups.items() if n < least}
            if small:
                named = ", ".join(f"{g!r} ({n} rows)" for g, n in sorted(small.items(), key=lambda kv: kv[1]))
                out.append(Caveat("small_groups", (
                    f"{metric} compares the groups of {column!r}; in the {split} split group(s) {named} have fewer "
                    f"than {least} rows, so the gap will be decided by a handful of rows. Consider the "
                    "'two_largest' or 'merge_below' group choice (docs/yaml.md)"
                )))
    return out
