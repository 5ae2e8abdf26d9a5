"""Read the earlier studies a new study is warm-started from: checked, matched into its space, frozen.

``Study.create(..., warm_start=[...])`` calls ``read_warm_start`` once. Each earlier study is
named by a mapping ``{study: NAME, store: URL, objectives: {HERE: THERE}}`` (the store defaults
to the new study's own), or is a loaded study. What may not be used is refused at creation
with the reason: a study that does not exist, a store that cannot be opened, a space that
shares no parameter, an objective missing there or optimized the other way round (unless the
user maps it: ``objectives: {val_error: val_error}`` reads it negated). A corrupted or foreign
row is skipped with a warning and counted in the notes, never a crash.

The outcome is a tuple of ``PriorStudy`` records, kept in the new study's metadata so that
every later decision (a resumed run, another worker, a replay) reads the same ones.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from metaml.core.records import StudyRecord, TrialRecord, TrialStatus
from metaml.core.warm_start import PriorObservation, PriorStudy
from metaml.errors import MetamlError, SpaceError, StoreError
from metaml.objectives import Objective, parse_objectives
from metaml.space import Space
from metaml.space.matching import match_spaces
from metaml.store import SQLStore, open_store

log = logging.getLogger(__name__)

#: The trials whose results an earlier study lends: those that measured something.
USABLE = (TrialStatus.COMPLETED, TrialStatus.PRUNED)


@dataclass(frozen=True)
class WarmStartSource:
    """One earlier study as the user names it: its name, its store (None: the new study's), objective map."""

    study: str
    store: str | SQLStore | None = None
    #: This study's objective name -> the earlier study's metric to read it from.
    objectives: Mapping[str, str] = field(default_factory=dict)


def parse_sources(items: Any, where: str = "warm_start") -> list[WarmStartSource]:
    """The earlier studies from a list of mappings (``study``, ``store``, ``objectives``) or loaded studies."""
    if items is None:
        return []
    if isinstance(items, (str, Mapping)) or not isinstance(items, Sequence):
        items = [items]
    out = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if hasattr(item, "store") and hasattr(item, "name") and isinstance(item.store, SQLStore):
            out.append(WarmStartSource(str(item.name), item.store))
            continue
        if isinstance(item, str):
            item = {"study": item}
        if not isinstance(item, Mapping):
            raise MetamlError(f"{at}: an earlier study is a mapping {{study: NAME, store: URL}} or a Study, "
                              f"got {item!r}")
        unknown = sorted(set(item) - {"study", "store", "objectives"})
        if unknown:
            raise MetamlError(f"{at}: unknown key(s) {unknown}; allowed: study, store, objectives")
        name = item.get("study")
        if not isinstance(name, str) or not name:
            raise MetamlError(f"{at}: 'study' must name the earlier study, got {name!r}")
        store = item.get("store")
        if store is not None and not isinstance(store, (str, SQLStore)) and not hasattr(store, "__fspath__"):
            raise MetamlError(f"{at}: 'store' must be a path or a database URL, got {store!r}")
        mapping = item.get("objectives") or {}
        if not isinstance(mapping, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                       for k, v in mapping.items()):
            raise MetamlError(f"{at}: 'objectives' maps this study's objective names to the earlier study's "
                              f"metric names, got {mapping!r}")
        out.append(WarmStartSource(name, None if store is None else store if isinstance(store, SQLStore)
                                   else str(store), dict(mapping)))
    return out


def read_warm_start(
    sources: Sequence[WarmStartSource], space: Space, objectives: Sequence[Objective], own: SQLStore,
    own_name: str | None = None,
) -> tuple[PriorStudy, ...]:
    """Every earlier study read, checked and matched into ``space`` (refused with the reason, see the module)."""
    out = []
    for i, source in enumerate(sources):
        at = f"warm_start[{i}] (study {source.study!r})"
        db = own if source.store is None else _open(source.store, at)
        if db is own and source.study == own_name:
            raise MetamlError(f"{at}: a study cannot be warm-started from itself")
        try:
            record = db.get_study(source.study)
        except StoreError as exc:
            raise MetamlError(f"{at}: {exc}") from None
        out.append(_read_one(db, record, source, space, tuple(objectives), at))
    return tuple(out)


def _open(store: str | SQLStore, at: str) -> SQLStore:
    try:
        return open_store(store, create=False)
    except MetamlError as exc:
        raise MetamlError(f"{at}: cannot open its store: {exc}") from None
    except Exception as exc:  # an unreachable server, a file that is not a database: said, not a traceback
        raise MetamlError(f"{at}: cannot open its store {store}: {type(exc).__name__}: {exc}") from None


def _read_one(db: SQLStore, record: StudyRecord, source: WarmStartSource, space: Space,
              objectives: tuple[Objective, ...], at: str) -> PriorStudy:
    try:
        earlier_space = Space.from_dict(record.space)
        earlier_objectives = parse_objectives(record.objectives)
    except MetamlError as exc:
        raise MetamlError(f"{at}: its stored space or objectives cannot be read: {exc}") from None
    match = match_spaces(earlier_space, space)
    if not match.shared:
        raise MetamlError(f"{at}: its space shares no parameter with this one (it has "
                          f"{', '.join(earlier_space.order) or 'none'}): nothing could be learnt from it")
    signs, names = _objective_map(source, objectives, earlier_objectives, at)
    fid = earlier_space.fidelity
    full = float(fid.upper) if fid is not None else None
    trials = db.trials(record.id)
    observations: list[PriorObservation] = []
    refused: dict[str, int] = {}
    skipped = clipped = filled = 0
    for t in trials:
        if t.status not in USABLE:
            continue
        try:
            losses = _losses(t, names, signs)
            fraction = _fraction(t, full)
        except (TypeError, ValueError) as exc:
            skipped += 1
            log.warning("%s: trial %s skipped: %s", at, t.number, exc)
            continue
        if math.isnan(losses[0]):
            continue  # it measured nothing of this study's first objective
        if not isinstance(t.config, Mapping):
            skipped += 1
            log.warning("%s: trial %s skipped: its configuration is not a mapping", at, t.number)
            continue
        try:
            matched = match.config(t.config)
        except (SpaceError, TypeError, ValueError) as exc:
            skipped += 1
            log.warning("%s: trial %s skipped: %s", at, t.number, exc)
            continue
        if matched.config is None:
            key = (matched.refused or "refused").split(":")[0]
            refused[key] = refused.get(key, 0) + 1
            continue
        clipped += bool(matched.clipped)
        filled += bool(matched.filled)
        observations.append(PriorObservation(t.number, matched.config, fraction, losses))
    notes = list(match.notes)
    notes += [f"{n} trial(s) refused on {key}" for key, n in sorted(refused.items())]
    if clipped:
        notes.append(f"{clipped} trial(s) had values clipped to this space's ranges")
    if skipped:
        notes.append(f"{skipped} corrupted or foreign row(s) skipped")
    if not observations:
        notes.append("no trial could be used")
    cost = sum(float(t.cost_fte or 0.0) for t in trials)
    mapped = {o.name: names[i] for i, o in enumerate(objectives) if names[i] != o.name}
    return PriorStudy(record.name, db.safe_url, record.metadata.uid, tuple(observations), tuple(notes),
                      len(trials), cost, mapped)


def _objective_map(source: WarmStartSource, objectives: tuple[Objective, ...],
                   earlier: tuple[Objective, ...], at: str) -> tuple[list[float], list[str]]:
    """(sign, earlier metric name) per objective of this study: a loss here is sign * the metric there."""
    theirs = {o.name: o for o in earlier}
    signs, names = [], []
    for i, o in enumerate(objectives):
        mapped = o.name in source.objectives
        name = source.objectives.get(o.name, o.name)
        other = theirs.get(name)
        if other is None and not mapped:
            if i == 0:
                raise MetamlError(
                    f"{at}: it has no objective {o.name!r} (its objectives: {', '.join(theirs)}): map one with "
                    f"objectives: {{{o.name}: NAME}}")
            names.append(name)
            signs.append(o.sign)
            continue
        if other is not None and other.goal != o.goal and not mapped:
            raise MetamlError(
                f"{at}: its objective {name!r} is {'maximized' if other.goal == 'max' else 'minimized'} there and "
                f"{'maximized' if o.goal == 'max' else 'minimized'} here: map it explicitly "
                f"(objectives: {{{o.name}: {name}}}) to read it the other way round")
        names.append(name)
        signs.append(other.sign if other is not None else o.sign)
    return signs, names


def _losses(t: TrialRecord, names: Sequence[str], signs: Sequence[float]) -> tuple[float, ...]:
    metrics = t.metrics or {}
    if not isinstance(metrics, Mapping):
        raise TypeError("its metrics are not a mapping")
    out = []
    for name, sign in zip(names, signs, strict=True):
        value = metrics.get(name)
        if value is None:
            out.append(math.nan)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"metric {name!r} is {value!r}, not a number")
        out.append(sign * float(value) if math.isfinite(value) else math.nan)
    return tuple(out)


def _fraction(t: TrialRecord, full: float | None) -> float:
    if full is None:
        return 1.0
    step = t.end_step if t.end_step is not None else t.fidelity
    if step is None:
        return 1.0
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step) or step < 0:
        raise ValueError(f"its fidelity {step!r} is not a number")
    return float(min(1.0, step / full))


def describe(sources: Sequence[PriorStudy]) -> str:
    """The earlier studies in one line, for the ``warm_start`` event."""
    parts = [f"{s.name} ({len(s.observations)} of {s.n_trials} trials, {s.cost_fte:.3g} FTE there)" for s in sources]
    return "warm-started from " + "; ".join(parts) + ": their results cost 0 FTE here and are never this study's trials"
