"""Reduce result lines to one row per optimizer, and render the rows as Rich tables."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.runner import CHECKPOINTS
from benchmarks.stats import Ratio, Summary, median, ratio, summarize


@dataclass(frozen=True)
class Row:
    """One optimizer over every run given (all tasks and seeds pooled)."""

    optimizer: str
    runs: int
    budget: float
    fte_to_target: Summary
    regret: dict[str, float | None]  # median regret per checkpoint; None where the budget ends before
    ask_ms: float
    evaluations: float
    fte_reused: float
    vs_random: Ratio | None  # against the reference optimizer (random search unless rows() is told otherwise)
    stopped: dict[str, int]
    overhead_ms: float = math.nan  # median over runs of (wall - problem time) per evaluation
    overhead_s: float = math.nan  # median over runs of (wall - problem time) for the whole run
    kind: str = "metaml"
    charged: str = ""  # "continues" (pays new epochs only) or "retrains" (pays every evaluation whole)


def read_results(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Result lines from JSONL files, gzipped ones (``.gz``, as kept in ``benchmarks/results/``) too; blank lines
    skipped."""
    out = []
    for path in paths:
        path = Path(path)
        text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
        for line in text.splitlines():
            if line.strip():
                out.append(json.loads(line))
    return out


def _label(results: Sequence[dict[str, Any]]) -> dict[tuple[str, float], str]:
    """Row names: the optimizer, with ``@budget`` where one optimizer was run with several budgets."""
    budgets: dict[str, set[float]] = {}
    for r in results:
        budgets.setdefault(r["optimizer"], set()).add(float(r["budget_fte"]))
    return {(o, b): (o if len(bs) == 1 else f"{o}@{b:g}") for o, bs in budgets.items() for b in bs}


def rows(results: Sequence[dict[str, Any]], reference: str = "random") -> list[Row]:
    """One row per optimizer and budget, in order of first appearance.

    Ratios are against the median FTE-to-target of ``reference``; where it was run with
    several budgets, the largest one (the least censored) is the reference.
    """
    labels = _label(results)
    by_opt: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_opt.setdefault(labels[(r["optimizer"], float(r["budget_fte"]))], []).append(r)
    budget = {name: min(r["budget_fte"] for r in rs) for name, rs in by_opt.items()}
    refs = [(b, lab) for (o, b), lab in labels.items() if o == reference]
    reference = max(refs)[1] if refs else reference
    ref = summarize(r["fte_to_target"] for r in by_opt[reference]) if reference in by_opt else None
    out = []
    for name, rs in by_opt.items():
        fte = summarize(r["fte_to_target"] for r in rs)
        regret: dict[str, float | None] = {}
        for x in CHECKPOINTS:
            key = f"{x:g}"
            if all(key in r["regret"] for r in rs):
                regret[key] = median(r["regret"][key] for r in rs)
            else:
                regret[key] = None
        stopped: dict[str, int] = {}
        for r in rs:
            stopped[r["stopped"]] = stopped.get(r["stopped"], 0) + 1
        vs = None
        if ref is not None:
            vs = ratio(fte.median, ref.median, budget[name], budget[reference])
        out.append(Row(
            optimizer=name, runs=len(rs), budget=budget[name], fte_to_target=fte, regret=regret,
            ask_ms=median(r["ask_ms"]["mean"] for r in rs if r["ask_ms"]["mean"] is not None),
            evaluations=median(r["n_evaluations"] for r in rs),
            fte_reused=median(r["fte_reused"] for r in rs),
            vs_random=vs, stopped=stopped,
            overhead_ms=median(r["overhead_ms"] for r in rs if r.get("overhead_ms") is not None),
            overhead_s=median(r["overhead_s"] for r in rs if r.get("overhead_s") is not None),
            kind=rs[0].get("kind", "metaml"),
            charged=_charged(rs[0]),
        ))
    return out


def _charged(result: dict[str, Any]) -> str:
    if result.get("kind") == "peer":
        return "continues" if result.get("optimizer_settings", {}).get("continues") else "retrains"
    if str(result["optimizer"]).endswith("-scratch") or result.get("n_continuations", 1) == 0:
        return "retrains"  # a -scratch line, or an optimizer that never continued (bo: full runs)
    return "continues"


def best_label(results: Sequence[dict[str, Any]], kind: str = "peer") -> str | None:
    """The row label of the best optimizer of a kind: lowest median FTE-to-target, then the largest
    share of runs that reached the target, then the lowest median final regret (so that a tie
    among censored medians still has a winner)."""
    labels = _label(results)
    by_label: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        if r.get("kind", "metaml") == kind:
            by_label.setdefault(labels[(r["optimizer"], float(r["budget_fte"]))], []).append(r)
    if not by_label:
        return None

    def key(label: str) -> tuple[float, float, float]:
        s = summarize(r["fte_to_target"] for r in by_label[label])
        return s.median, -s.n_finite / max(s.n, 1), median(r["final_regret"] for r in by_label[label])

    return min(by_label, key=key)


def _fte(x: float, budget: float) -> str:
    return f">{budget:g}" if math.isinf(x) else f"{x:.1f}"


def _regret(x: float | None) -> str:
    if x is None:
        return "-"
    return "inf" if math.isinf(x) else f"{x:.3f}"


def table(title: str, table_rows: Sequence[Row]) -> Any:
    """The Rich table of the rows (median FTE-to-target with IQR and reach count, regrets, overhead)."""
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    t.add_column("optimizer")
    t.add_column("runs", justify="right")
    t.add_column("FTE to target\nmedian [IQR]", justify="right")
    t.add_column("reached", justify="right")
    t.add_column("vs random", justify="right")
    for x in CHECKPOINTS:
        t.add_column(f"regret\n@{x:g}", justify="right")
    t.add_column("evals\n/run", justify="right")
    t.add_column("FTE\nreused", justify="right")
    t.add_column("ask ms", justify="right")
    for r in table_rows:
        s = r.fte_to_target
        t.add_row(
            r.optimizer, str(r.runs),
            f"{_fte(s.median, r.budget)} [{_fte(s.q25, r.budget)}, {_fte(s.q75, r.budget)}]",
            f"{s.n_finite}/{s.n}",
            "" if r.vs_random is None else str(r.vs_random),
            *[_regret(r.regret[f"{x:g}"]) for x in CHECKPOINTS],
            f"{r.evaluations:.0f}", f"{r.fte_reused:.1f}", f"{r.ask_ms:.3f}",
        )
    return t


def markdown(table_rows: Sequence[Row]) -> str:
    """The same columns as ``table``, as a GitHub Markdown table (for docs/benchmarks.md)."""
    head = ["optimizer", "runs", "FTE to target: median [IQR]", "reached", "vs random",
            *[f"regret @{x:g}" for x in CHECKPOINTS], "evals/run", "FTE reused", "ask ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for r in table_rows:
        s = r.fte_to_target
        cells = [
            f"`{r.optimizer}`", str(r.runs),
            f"{_fte(s.median, r.budget)} [{_fte(s.q25, r.budget)}, {_fte(s.q75, r.budget)}]",
            f"{s.n_finite}/{s.n}", "" if r.vs_random is None else str(r.vs_random),
            *[_regret(r.regret[f"{x:g}"]) for x in CHECKPOINTS],
            f"{r.evaluations:.0f}", f"{r.fte_reused:.1f}", f"{r.ask_ms:.3f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_task_cells(results: Sequence[dict[str, Any]]) -> tuple[list[str], list[str], list[list[str]]]:
    """(problems, optimizer labels, cells): median FTE-to-target (reached/runs) per problem and optimizer."""
    labels = _label(results)
    problems = list(dict.fromkeys(r["problem"] for r in results))
    optimizers = list(dict.fromkeys(labels[(r["optimizer"], float(r["budget_fte"]))] for r in results))
    cells = []
    for p in problems:
        row = []
        for o in optimizers:
            rs = [r for r in results if r["problem"] == p and labels[(r["optimizer"], float(r["budget_fte"]))] == o]
            if not rs:
                row.append("")
                continue
            s = summarize(r["fte_to_target"] for r in rs)
            row.append(f"{_fte(s.median, min(r['budget_fte'] for r in rs))} ({s.n_finite}/{s.n})")
        cells.append(row)
    return problems, optimizers, cells


def per_task_table(results: Sequence[dict[str, Any]]) -> Any:
    """Median FTE-to-target (reached/runs) per problem and optimizer, as a Rich table."""
    from rich.table import Table

    problems, optimizers, cells = per_task_cells(results)
    t = Table(title="median FTE to target per problem (reached/runs)", title_justify="left")
    t.add_column("problem")
    for o in optimizers:
        t.add_column(o, justify="right")
    for p, row in zip(problems, cells, strict=True):
        t.add_row(p, *row)
    return t


def per_task_markdown(results: Sequence[dict[str, Any]]) -> str:
    problems, optimizers, cells = per_task_cells(results)
    lines = ["| problem | " + " | ".join(f"`{o}`" for o in optimizers) + " |",
             "|---|" + "---:|" * len(optimizers)]
    lines += [f"| {p} | " + " | ".join(row) + " |" for p, row in zip(problems, cells, strict=True)]
    return "\n".join(lines)


def as_json(table_rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Rows as plain data (infinite values as null), for ``--json``."""
    return [{
        "optimizer": r.optimizer, "runs": r.runs, "budget_fte": r.budget,
        "fte_to_target": _summary_json(r.fte_to_target), "vs_random": _ratio_json(r.vs_random),
        "regret": {k: _finite(v) for k, v in r.regret.items()},
        "ask_ms": r.ask_ms, "evaluations": r.evaluations, "fte_reused": r.fte_reused, "stopped": r.stopped,
    } for r in table_rows]


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def _summary_json(s: Summary) -> dict[str, Any]:
    """Median, quartiles (null where censored) and how many runs reached the target."""
    return {"median": _finite(s.median), "q25": _finite(s.q25), "q75": _finite(s.q75), "reached": s.n_finite}


def _ratio_json(r: Ratio | None) -> dict[str, Any] | None:
    return None if r is None else {"value": _finite(r.value), "bound": r.bound}


def _ms(x: float) -> str:
    return "" if math.isnan(x) else (f"{x:.2f}" if x < 10 else f"{x:.0f}")


def compare_cells(table_rows: Sequence[Row], reference: str | None) -> tuple[list[str], list[list[str]]]:
    """(header, cells) of the compare table: ratios against ``reference`` (the best peer), overhead."""
    head = ["optimizer", "charged", "runs", "FTE to target: median [IQR]", "reached",
            f"vs {reference}" if reference else "vs best peer",
            *[f"regret @{x:g}" for x in CHECKPOINTS], "evals/run", "overhead ms/eval", "overhead s/run", "stopped"]
    cells = [[*_reach_cells(r, r.fte_to_target, r.vs_random), *[_regret(r.regret[f"{x:g}"]) for x in CHECKPOINTS],
              *_cost_cells(r)] for r in table_rows]
    return head, cells


def _reach_cells(r: Any, s: Summary, vs: Any) -> list[str]:
    """The leading cells of a compare row: who, how charged, runs, FTE to target, reached, ratio."""
    return [r.optimizer, r.charged, str(r.runs),
            f"{_fte(s.median, r.budget)} [{_fte(s.q25, r.budget)}, {_fte(s.q75, r.budget)}]",
            f"{s.n_finite}/{s.n}", "" if vs is None else str(vs)]


def _cost_cells(r: Any) -> list[str]:
    """The trailing cells of a compare row: evaluations, overheads, and why runs stopped early."""
    stopped = ", ".join(f"{k}: {v}" for k, v in r.stopped.items() if k != "budget")
    return [f"{r.evaluations:.0f}", _ms(r.overhead_ms), _ms(r.overhead_s), stopped]


def compare_table(title: str, table_rows: Sequence[Row], reference: str | None) -> Any:
    """The compare table as a Rich table."""
    return _rich_compare(title, *compare_cells(table_rows, reference))


def _rich_compare(title: str, head: list[str], cells: list[list[str]]) -> Any:
    """A compare table as Rich renders it: who and how charged on the left, numbers on the right."""
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for i, h in enumerate(head):
        t.add_column(h.replace(": ", "\n", 1) if i else h, justify="left" if i in (0, 1, len(head) - 1) else "right")
    for row in cells:
        t.add_row(*row)
    return t


def compare_markdown(table_rows: Sequence[Row], reference: str | None) -> str:
    """The compare table as GitHub Markdown (for docs/benchmarks.md)."""
    head, cells = compare_cells(table_rows, reference)
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 3) + "---|"]
    for row in cells:
        lines.append("| " + " | ".join([f"`{row[0]}`", *row[1:]]) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- multi-objective (results with an "mo" field)
HV_KEYS: tuple[str, ...] = ("5", "10", "30")


def is_multi_objective(results: Sequence[dict[str, Any]]) -> bool:
    """Whether the result lines carry hypervolume measures (the lcbench-mo-dev suite)."""
    return bool(results) and all("mo" in r for r in results)


@dataclass(frozen=True)
class MORow:
    """One optimizer on a multi-objective family: FTE to the hypervolume target, normalized hypervolume."""

    optimizer: str
    kind: str
    charged: str
    runs: int
    budget: float
    fte_to_hv_target: Summary
    hv_norm: dict[str, Summary | None]  # hypervolume / the random front's, per checkpoint (None past the budget)
    vs_reference: Ratio | None
    evaluations: float
    overhead_ms: float
    overhead_s: float
    stopped: dict[str, int]


def _by_label(results: Sequence[dict[str, Any]], kind: str | None = None) -> dict[str, list[dict[str, Any]]]:
    labels = _label(results)
    out: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        if kind is None or r.get("kind", "metaml") == kind:
            out.setdefault(labels[(r["optimizer"], float(r["budget_fte"]))], []).append(r)
    return out


def best_mo_label(results: Sequence[dict[str, Any]], kind: str = "peer") -> str | None:
    """The best optimizer of a kind: lowest median FTE to the hypervolume target, then most runs
    reaching it, then the highest median final normalized hypervolume."""
    groups = _by_label(results, kind)
    if not groups:
        return None

    def key(label: str) -> tuple[float, float, float]:
        s = summarize(r["mo"]["fte_to_hv_target"] for r in groups[label])
        return s.median, -s.n_finite / max(s.n, 1), -median(r["mo"]["final_hv_norm"] for r in groups[label])

    return min(groups, key=key)


def mo_rows(results: Sequence[dict[str, Any]], reference: str | None = None) -> list[MORow]:
    """One row per optimizer (tasks and seeds pooled); ratios of median FTE-to-HV-target against ``reference``."""
    groups = _by_label(results)
    budget = {name: min(float(r["budget_fte"]) for r in rs) for name, rs in groups.items()}
    ref = summarize(r["mo"]["fte_to_hv_target"] for r in groups[reference]) if reference in groups else None
    out = []
    for name, rs in groups.items():
        fte = summarize(r["mo"]["fte_to_hv_target"] for r in rs)
        hv: dict[str, Summary | None] = {}
        for k in HV_KEYS:
            hv[k] = summarize(r["mo"]["hv_norm"][k] for r in rs) if all(k in r["mo"]["hv_norm"] for r in rs) else None
        stopped: dict[str, int] = {}
        for r in rs:
            stopped[r["stopped"]] = stopped.get(r["stopped"], 0) + 1
        vs = None
        if ref is not None and reference is not None:
            vs = ratio(fte.median, ref.median, budget[name], budget[reference])
        out.append(MORow(
            optimizer=name, kind=rs[0].get("kind", "metaml"), charged=_charged(rs[0]), runs=len(rs),
            budget=budget[name], fte_to_hv_target=fte, hv_norm=hv, vs_reference=vs,
            evaluations=median(r["n_evaluations"] for r in rs),
            overhead_ms=median(r["overhead_ms"] for r in rs if r.get("overhead_ms") is not None),
            overhead_s=median(r["overhead_s"] for r in rs if r.get("overhead_s") is not None),
            stopped=stopped,
        ))
    return out


def _hv(s: Summary | None) -> str:
    if s is None:
        return "-"
    return f"{s.median:.3f} [{s.q25:.3f}, {s.q75:.3f}]"


def mo_compare_cells(table_rows: Sequence[MORow], reference: str | None, share: float | None = None
                     ) -> tuple[list[str], list[list[str]]]:
    """(header, cells) of the multi-objective compare table."""
    target = f"FTE to {share:.0%} HV: median [IQR]" if share else "FTE to HV target: median [IQR]"
    head = ["optimizer", "charged", "runs", target, "reached", f"vs {reference}" if reference else "vs best peer",
            *[f"HV/HVr @{k}: median [IQR]" for k in HV_KEYS], "evals/run", "overhead ms/eval", "overhead s/run",
            "stopped"]
    cells = [[*_reach_cells(r, r.fte_to_hv_target, r.vs_reference), *[_hv(r.hv_norm[k]) for k in HV_KEYS],
              *_cost_cells(r)] for r in table_rows]
    return head, cells


def mo_compare_table(title: str, table_rows: Sequence[MORow], reference: str | None, share: float | None = None) -> Any:
    return _rich_compare(title, *mo_compare_cells(table_rows, reference, share))


def mo_compare_markdown(table_rows: Sequence[MORow], reference: str | None, share: float | None = None) -> str:
    head, cells = mo_compare_cells(table_rows, reference, share)
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 3) + "---|"]
    for row in cells:
        lines.append("| " + " | ".join([f"`{row[0]}`", *row[1:]]) + " |")
    return "\n".join(lines)


def mo_as_json(table_rows: Sequence[MORow]) -> list[dict[str, Any]]:
    """Multi-objective rows as plain data (infinite values as null), for ``--json``."""
    return [{
        "optimizer": r.optimizer, "runs": r.runs, "budget_fte": r.budget,
        "fte_to_hv_target": _summary_json(r.fte_to_hv_target), "vs_reference": _ratio_json(r.vs_reference),
        "hv_norm": {k: None if s is None else {"median": s.median, "q25": s.q25, "q75": s.q75}
                    for k, s in r.hv_norm.items()},
        "evaluations": r.evaluations, "stopped": r.stopped,
    } for r in table_rows]


def mo_per_task_markdown(results: Sequence[dict[str, Any]]) -> str:
    """Median FTE to the hypervolume target (reached/runs) per problem and optimizer."""
    labels = _label(results)
    problems = list(dict.fromkeys(r["problem"] for r in results))
    optimizers = list(dict.fromkeys(labels[(r["optimizer"], float(r["budget_fte"]))] for r in results))
    lines = ["| problem | " + " | ".join(f"`{o}`" for o in optimizers) + " |", "|---|" + "---:|" * len(optimizers)]
    for p in problems:
        row = []
        for o in optimizers:
            rs = [r for r in results if r["problem"] == p and labels[(r["optimizer"], float(r["budget_fte"]))] == o]
            s = summarize(r["mo"]["fte_to_hv_target"] for r in rs) if rs else None
            row.append("" if s is None else f"{_fte(s.median, min(r['budget_fte'] for r in rs))} ({s.n_finite}/{s.n})")
        lines.append(f"| {p} | " + " | ".join(row) + " |")
    return "\n".join(lines)
