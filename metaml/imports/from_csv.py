"""Trials from a CSV file as a metaml study: one row per trial, checked against a known space.

The columns are the space's parameter names and the objectives' names, and optionally the
fidelity (the space's fidelity name, or ``fidelity``) and ``status`` (``completed``, ``pruned``, ``failed``;
Optuna's ``COMPLETE``, ``PRUNED``, ``FAIL`` too). An empty cell is a parameter the row does
not set (an inactive one). Optuna's ``trials_dataframe()`` columns are read as well:
``params_lr`` is ``lr`` and ``state`` is ``status``; so are ``metaml trials --csv``'s (its
``number``, ``continue_from``, ``cost_fte`` and ``error`` are not imported). Without a fidelity column, a row of a
space with a fidelity is taken to be a full-fidelity result.

A row outside the space, with a value that does not parse, or a completed row without every
objective is skipped with a warning naming its line; the rest are imported.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from metaml.core.records import ImportedTrial, TrialStatus
from metaml.errors import SpaceError, StudyFileError
from metaml.imports.base import ImportReport, write_import
from metaml.objectives import Objective
from metaml.space import Categorical, Constant, Float, Int, Space
from metaml.space.parameters import Parameter
from metaml.store import SQLStore

STATUSES = {
    "completed": TrialStatus.COMPLETED, "complete": TrialStatus.COMPLETED, "pruned": TrialStatus.PRUNED,
    "failed": TrialStatus.FAILED, "fail": TrialStatus.FAILED,
}  # fmt: skip
#: Column name prefixes that are dropped (Optuna's ``trials_dataframe``).
PREFIXES = ("params_",)
STATUS_COLUMNS = ("status", "state")
#: The columns of ``metaml trials --csv`` that say how a trial ran here, not what it was: not imported.
EXPORT_COLUMNS = ("number", "continue_from", "cost_fte", "error")


def import_csv(
    path: str | Path,
    store: str | Path | SQLStore,
    name: str,
    space: Space,
    objectives: Sequence[Objective],
    *,
    origin: Mapping[str, Any] | None = None,
) -> ImportReport:
    """Import the rows of the CSV file ``path`` into ``store`` as the study ``name`` (of ``space`` and ``objectives``)."""
    file = Path(path)
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            columns, notes = _columns(header, space, objectives, file)
            rows = [(reader.line_num, row) for row in reader]
    except OSError as exc:
        raise StudyFileError(f"cannot read the CSV file {file}: {exc.strerror or exc}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise StudyFileError(f"{file} is not a readable CSV file: {exc}") from None
    source = {"source": "csv", "file": str(file.resolve()), **dict(origin or {})}
    trials: list[ImportedTrial] = []
    skipped = list(notes)
    for line, row in rows:
        got = _row(row, columns, space, objectives, len(trials), {**source, "line": line})
        if isinstance(got, str):
            skipped.append(f"{file.name} line {line}: {got}")
        else:
            trials.append(got)
    if not trials:
        first = next((s for s in skipped if " line " in s), "it has no rows")
        raise StudyFileError(f"no row of {file} could be imported ({first})")
    return write_import(store, name, space, objectives, trials, {**source, "rows": len(rows)}, skipped)


def _columns(
    header: Sequence[str], space: Space, objectives: Sequence[Objective], file: Path
) -> tuple[dict[str, str], list[str]]:
    """``{column: what it holds}`` (a parameter, an objective, the fidelity, the status) and notes on the rest."""
    if not header:
        raise StudyFileError(f"{file} has no header row: its first line names the columns")
    known = {**{n: "param" for n in space.searchable}, **{o.name: "objective" for o in objectives}}
    aliases: dict[str, str] = {}
    if space.fidelity_name is not None:
        known[space.fidelity_name] = "fidelity"
        if space.fidelity_name not in header and "fidelity" not in known:
            aliases["fidelity"] = space.fidelity_name  # `metaml trials --csv` names the column `fidelity`
    columns: dict[str, str] = {}
    notes: list[str] = []
    bookkeeping = [col for col in header if col in EXPORT_COLUMNS and col not in known]
    if bookkeeping:
        notes.append(f"{file.name}: the columns {', '.join(bookkeeping)} say how each trial ran where it came from "
                     "and are not imported (an imported trial gets a new number and costs 0 FTE)")  # fmt: skip
    fidelity = f" ({space.fidelity_name!r})" if space.fidelity_name is not None else ""
    for col in header:
        if col in bookkeeping:
            continue
        key = next((col[len(p):] for p in PREFIXES if col.startswith(p) and col[len(p):] in known), col)
        key = aliases.get(key, key)
        if key in known:
            columns[col] = key
        elif key.lower() in STATUS_COLUMNS:
            columns[col] = "\0status"
        else:
            notes.append(f"{file.name}: the column {col!r} is none of the space's parameters, the objectives, the "
                         f"fidelity{fidelity} or the status: ignored")  # fmt: skip
    present = set(columns.values())
    missing = [o.name for o in objectives if o.name not in present]
    missing += [n for n, p in space.searchable.items() if not isinstance(p, Constant) and not space.conditions.get(n)
                and n not in present]  # fmt: skip
    if missing:
        raise StudyFileError(f"{file} has no column for {', '.join(repr(m) for m in missing)} (its columns: {', '.join(header)})")
    return columns, notes


def _row(
    row: Mapping[str, Any], columns: Mapping[str, str], space: Space, objectives: Sequence[Objective], number: int,
    provenance: dict[str, Any],
) -> ImportedTrial | str:
    """One row as an imported trial, or why it is skipped."""
    config: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    status, fidelity = TrialStatus.COMPLETED, None
    if None in row:
        return f"it has {len(row[None]) + len(columns)} cells or more for {len(columns)} columns"  # type: ignore[index]
    try:
        for col, key in columns.items():
            text = (row.get(col) or "").strip()
            if not text:
                continue
            if key == "\0status":
                if text.lower() not in STATUSES:
                    raise SpaceError(f"status {text!r} is not one of completed, pruned, failed")
                status = STATUSES[text.lower()]
            elif key == space.fidelity_name:
                fidelity = _number(text, key)
            elif key in space.searchable:
                config[key] = _value(space.searchable[key], text, key)
            else:
                metrics[key] = _number(text, key)
        config = space.validate(config)
        fidelity = _fidelity(space, fidelity)
    except SpaceError as exc:
        return str(exc)
    if status is TrialStatus.COMPLETED and (lacking := [o.name for o in objectives if o.name not in metrics]):
        return f"a completed trial needs every objective, and {', '.join(lacking)} is empty"
    return ImportedTrial(
        number=number, config=config, status=status, provenance=provenance, fidelity=fidelity,
        metrics=None if status is TrialStatus.FAILED or not metrics else metrics,
        error="failed (imported from a CSV file)" if status is TrialStatus.FAILED else None,
    )  # fmt: skip


def _fidelity(space: Space, value: float | None) -> float | None:
    fid = space.fidelity
    if fid is None:
        if value is not None:
            raise SpaceError("the space has no fidelity")
        return None
    if value is None:
        return float(fid.upper)
    if not fid.lower <= value <= fid.upper:
        raise SpaceError(f"the fidelity {value:g} is outside [{fid.lower}, {fid.upper}]")
    return value


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SpaceError(f"{name!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SpaceError(f"{name!r}: {text!r} is not a finite number")
    return value


def _value(param: Parameter, text: str, name: str) -> Any:
    """The cell ``text`` as a value of ``param`` (validation then checks the range)."""
    if isinstance(param, Categorical):
        for choice in param.choices:
            if str(choice) == text or (isinstance(choice, bool) and text.lower() == str(choice).lower()):
                return choice
            if isinstance(choice, (int, float)) and not isinstance(choice, bool):
                try:
                    if float(text) == choice:
                        return choice
                except ValueError:
                    pass
        raise SpaceError(f"{name!r}: {text!r} is not one of {list(param.choices)}")
    if isinstance(param, Int):
        value = _number(text, name)
        if not value.is_integer():
            raise SpaceError(f"{name!r}: {text!r} is not a whole number")
        return int(value)
    if isinstance(param, Float):
        return _number(text, name)
    assert isinstance(param, Constant)
    return param.value if str(param.value) == text else text
