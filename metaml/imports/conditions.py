"""The conditions that explain why a parameter is set in some trials only (define-by-run spaces, sparse CSV rows).

metaml conditions say which values of a parent switch a parameter on. A parameter missing in
some trials is explained by a parent that every trial setting it also sets, whose values in
those trials never occur in the trials without it: a categorical first (``optimizer`` decides
``momentum``), then an integer, whose condition is widened to the whole side of a threshold
(``n_layers >= 3`` decides ``width_3``, also for a count of layers no trial tried). With no
such parent the import is refused, naming the parameter: a guess would make the imported
space wrong for every later study that learns from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from metaml.errors import SpaceError
from metaml.space import Categorical, Constant, Float, Int
from metaml.space.parameters import Parameter

#: The most values an integer condition may list (a threshold over a wider range is not inferred).
MAX_INT_VALUES = 1000


def infer_conditions(
    params: Mapping[str, Parameter], configs: Sequence[Mapping[str, Any]], where: str
) -> dict[str, dict[str, list[Any]]]:
    """``{name: {parent: values}}`` for every parameter that some of ``configs`` leave out."""
    out: dict[str, dict[str, list[Any]]] = {}
    for name in params:
        has = [c for c in configs if name in c]
        lacks = [c for c in configs if name not in c]
        if not lacks or not has:
            continue
        when = _explain(name, params, has, lacks, out)
        if when is None:
            raise SpaceError(
                f"{where}: the parameter {name!r} is set in {len(has)} of {len(configs)} trials, and no categorical or "
                "integer parameter decides when: metaml needs its condition (give it in a study YAML and import with "
                "--space)"
            )
        out[name] = when
    return out


def _explain(
    name: str, params: Mapping[str, Parameter], has: Sequence[Mapping[str, Any]], lacks: Sequence[Mapping[str, Any]],
    decided: Mapping[str, Any],
) -> dict[str, list[Any]] | None:
    ranked = sorted((p for p in params if p != name), key=lambda p: not isinstance(params[p], Categorical))
    for parent in ranked:
        param = params[parent]
        if isinstance(param, (Constant,)) or (isinstance(param, Float) and not isinstance(param, Int)):
            continue
        if name in decided.get(parent, {}) or any(parent not in c for c in has):
            continue  # (a parent decided by this parameter would make a cycle)
        on = [c[parent] for c in has]
        off = [c[parent] for c in lacks if parent in c]
        if any(_same_in(v, off) for v in on):
            continue
        if isinstance(param, Categorical):
            return {parent: [c for c in param.choices if _same_in(c, on)]}
        assert isinstance(param, Int)
        values = _int_side(param, [int(v) for v in on], [int(v) for v in off])
        if values is not None:
            return {parent: values}
    return None


def _int_side(param: Int, on: list[int], off: list[int]) -> list[int] | None:
    """The integers that switch a parameter on: the whole side of a threshold, or those seen."""
    lo, hi = int(param.lower), int(param.upper)
    if off and min(on) > max(off):
        values = list(range(min(on), hi + 1))
    elif off and max(on) < min(off):
        values = list(range(lo, max(on) + 1))
    else:
        values = sorted(set(on))
    return values if len(values) <= MAX_INT_VALUES else None


def _same_in(value: Any, values: Sequence[Any]) -> bool:
    """Whether ``value`` is among ``values`` (a boolean is not the number 1)."""
    return any(v == value and isinstance(v, bool) == isinstance(value, bool) for v in values)
