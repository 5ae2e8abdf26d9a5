"""The report's Plotly figures, built from ``ReportData`` (one function per plot).

Every text shown inside a figure that comes from the user (parameter names, choices,
objective names) is HTML-escaped here, because Plotly renders a subset of HTML in labels
and hover text. Figures use the empty "none" template and a few layout settings of our own,
so that each one weighs a few kilobytes rather than carrying Plotly's default template.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from metaml.core.records import TrialRecord, TrialStatus
from metaml.report.importance import Importance
from metaml.report.summary import ReportData
from metaml.space import Space

FRONT = "#d62728"
DOMINATED = "#1f77b4"
INFEASIBLE = "#7f7f7f"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]


def esc(value: Any) -> str:
    """``value`` as text safe inside Plotly labels and hover text."""
    return html.escape(value if isinstance(value, str) else _fmt(value), quote=True)


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def short(value: Any) -> str:
    """A grid value as a compact, escaped axis label."""
    return html.escape(value if isinstance(value, str) else _fmt(value, 3), quote=True)


def _layout(fig: go.Figure, height: int = 420, **kwargs: Any) -> go.Figure:
    settings: dict[str, Any] = {
        "template": "none",
        "height": height,
        "margin": {"l": 70, "r": 20, "t": 30, "b": 60},
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 13},
        "hoverlabel": {"align": "left"},
        "legend": {"orientation": "h", "y": -0.18},
    }
    fig.update_layout(**{**settings, **kwargs})
    fig.update_xaxes(gridcolor="#e5e5e5", zeroline=False, automargin=True)
    fig.update_yaxes(gridcolor="#e5e5e5", zeroline=False, automargin=True)
    return fig


def hover(t: TrialRecord, names: Sequence[str]) -> str:
    """A trial's hover text: its number, objectives and configuration."""
    lines = [f"<b>trial {t.number}</b>"]
    lines += [f"{esc(n)} = {esc((t.metrics or {}).get(n))}" for n in names]
    if t.fidelity is not None:
        lines.append(f"fidelity = {esc(t.fidelity)}")
    lines += [f"{esc(k)} = {esc(v)}" for k, v in t.config.items()]
    return "<br>".join(lines)


def _axis_title(name: str, goal: str) -> str:
    return f"{esc(name)} ({'lower' if goal == 'min' else 'higher'} is better)"


# ------------------------------------------------------------------ Pareto front
def pareto(data: ReportData) -> go.Figure | None:
    """2 objectives: a scatter with the front drawn; 3 or more: parallel coordinates; 1: None."""
    objs = data.study.objectives
    names = [o.name for o in objs]
    final_ids = {f.number for f in data.final}
    partial = [t for t in data.trials if t.status is TrialStatus.COMPLETED and t.number not in final_ids
               and t.metrics and all(isinstance(t.metrics.get(n), (int, float)) for n in names)]
    if len(objs) < 2 or not (data.final or (len(objs) == 2 and partial)):
        return None
    on_front = {t.number for t in data.front}
    feasible = [t for t in data.final if data.study.feasible(t)]
    if len(objs) == 2:
        return _pareto_2d(data, names, on_front, feasible, partial)
    dims = [{"label": esc(n), "values": [(t.metrics or {})[n] for t in data.final]} for n in names]
    color = [2 if t.number in on_front else (1 if data.study.feasible(t) else 0) for t in data.final]
    fig = go.Figure(go.Parcoords(
        dimensions=dims,
        line={"color": color, "colorscale": [[0, INFEASIBLE], [0.5, "#aec7e8"], [1, FRONT]], "cmin": 0, "cmax": 2},
    ))
    return _layout(fig, height=460, margin={"l": 80, "r": 80, "t": 60, "b": 30})


def _scale(values: Sequence[float]) -> str:
    """A log axis for positive values spread over two orders of magnitude or more (sizes, latencies)."""
    positive = [v for v in values if v is not None]
    if positive and min(positive) > 0 and max(positive) / min(positive) >= 100:
        return "log"
    return "linear"


def _error_bars(trials: list[TrialRecord], x: str, y: str, color: str) -> dict[str, Any]:
    """Plotly error bars from the front trials' stored bootstrap intervals (none when they have none)."""
    out: dict[str, Any] = {}
    for name, key in ((x, "error_x"), (y, "error_y")):
        found = [(t.details.get("intervals") or {}).get(name) or {} for t in trials]
        if not all("low" in f and "high" in f for f in found):
            continue
        values = [(t.metrics or {})[name] for t in trials]
        out[key] = {"type": "data", "symmetric": False, "color": color, "thickness": 1, "width": 3,
                    "array": [max(0.0, f["high"] - v) for f, v in zip(found, values)],
                    "arrayminus": [max(0.0, v - f["low"]) for f, v in zip(found, values)]}  # fmt: skip
    return out


def _pareto_2d(data: ReportData, names: list[str], on_front: set[int], feasible: list[TrialRecord],
               partial: list[TrialRecord]) -> go.Figure:
    (x, gx), (y, gy) = [(o.name, o.goal) for o in data.study.objectives]
    fig = go.Figure()
    groups = [
        ("shorter run (not comparable)", partial, INFEASIBLE, 0.35, 6, "circle-open"),
        ("dominated", [t for t in feasible if t.number not in on_front], DOMINATED, 0.3, 7, "circle"),
        ("breaks a limit", [t for t in data.final if not data.study.feasible(t)], INFEASIBLE, 0.5, 7, "x"),
        ("Pareto front", sorted(data.front, key=lambda t: (t.metrics or {})[x]), FRONT, 1.0, 10, "circle"),
    ]
    shown: list[TrialRecord] = []
    for label, ts, color, opacity, size, symbol in groups:
        if not ts:
            continue
        shown += ts
        fig.add_trace(go.Scatter(
            x=[(t.metrics or {})[x] for t in ts], y=[(t.metrics or {})[y] for t in ts],
            mode="markers+lines" if label == "Pareto front" else "markers",
            line={"shape": "hv" if gx == gy else "linear", "color": color, "width": 1, "dash": "dot"},
            marker={"color": color, "opacity": opacity, "size": size, "symbol": symbol},
            name=label, text=[hover(t, names) for t in ts], hovertemplate="%{text}<extra></extra>",
            **(_error_bars(ts, x, y, color) if label == "Pareto front" else {}),
        ))
    for o, axis in zip(data.study.objectives, ("x", "y")):
        if o.limit is not None:
            line: dict[str, Any] = {"type": "line", "line": {"color": INFEASIBLE, "dash": "dash", "width": 1}}
            if axis == "x":
                line.update(x0=o.limit, x1=o.limit, y0=0, y1=1, yref="paper")
            else:
                line.update(y0=o.limit, y1=o.limit, x0=0, x1=1, xref="paper")
            fig.add_shape(line)
    fig.update_xaxes(title=_axis_title(x, gx), type=_scale([(t.metrics or {})[x] for t in shown]))
    fig.update_yaxes(title=_axis_title(y, gy), type=_scale([(t.metrics or {})[y] for t in shown]))
    return _layout(fig, height=460)


# ------------------------------------------------------------------ trajectory
def trajectory(data: ReportData) -> go.Figure | None:
    """Best value (one objective) or hypervolume (several) against cumulative FTE."""
    points = [p for p in data.trajectory if p["value"] is not None]
    if not points:
        return None
    objs = data.study.objectives
    fig = go.Figure()
    if len(objs) == 1:
        own = [p for p in data.trajectory if p["trial_value"] is not None]
        fig.add_trace(go.Scatter(
            x=[p["fte"] for p in own], y=[p["trial_value"] for p in own], mode="markers", name="each trial",
            marker={"color": DOMINATED, "opacity": 0.35, "size": 6},
            text=[f"trial {p['trial']} (fidelity {esc(p['fidelity'])})" for p in own],
            hovertemplate="%{text}<br>%{y:.4g}<extra></extra>",
        ))
        label = f"best {esc(objs[0].name)} so far"
        fig.update_yaxes(title=_axis_title(objs[0].name, objs[0].goal))
    else:
        label = "hypervolume of the front so far"
        fig.update_yaxes(title="hypervolume (higher is better)")
    fig.add_trace(go.Scatter(
        x=[p["fte"] for p in points], y=[p["value"] for p in points], mode="lines+markers", name=label,
        line={"shape": "hv", "color": FRONT, "width": 2}, marker={"size": 4},
        text=[f"after trial {p['trial']}" for p in points], hovertemplate="%{text}<br>%{x:.3g} FTE: %{y:.4g}<extra></extra>",
    ))
    fig.update_xaxes(title="cost spent (full-training equivalents, FTE)")
    return _layout(fig, height=380, margin={"l": 90, "r": 20, "t": 30, "b": 60})


# ------------------------------------------------------------------ learning curves
def learning_curves(data: ReportData) -> go.Figure | None:
    """Every trial's curve, one colour per fidelity reached, with dotted links from parent to promoted trial."""
    if not data.observations:
        return None
    metric = _curve_metric(data)
    by_trial: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for o in data.observations:
        value = o.metrics.get(metric)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            by_trial[o.trial_number].append((o.step, float(value)))
    if not by_trial:
        return None
    trials = {t.number: t for t in data.trials}
    levels: list[float] = sorted({f for n in by_trial if n in trials and (f := trials[n].fidelity) is not None})
    fig = go.Figure()
    for i, level in enumerate([*levels, None]):
        xs: list[float | None] = []
        ys: list[float | None] = []
        texts: list[str] = []
        for n, pts in sorted(by_trial.items()):
            if (trials[n].fidelity if n in trials else None) != level:
                continue
            for step, value in sorted(pts):
                xs.append(step)
                ys.append(value)
                texts.append(f"trial {n}")
            xs.append(None)  # a gap between trials: one trace per fidelity keeps the file small
            ys.append(None)
            texts.append("")
        if xs:
            name = "no fidelity" if level is None else f"trained to {esc(level)}"
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines+markers", name=name, text=texts,
                line={"color": PALETTE[i % len(PALETTE)], "width": 1}, marker={"size": 3}, opacity=0.7,
                hovertemplate="%{text}<br>step %{x}: %{y:.4g}<extra></extra>",
            ))
    link_x: list[float | None] = []
    link_y: list[float | None] = []
    for n in by_trial:
        t = trials.get(n)
        if t is None or t.continue_from is None or t.continue_from not in by_trial:
            continue
        a, b = max(by_trial[t.continue_from]), min(by_trial[n])
        link_x += [a[0], b[0], None]
        link_y += [a[1], b[1], None]
    if link_x:
        fig.add_trace(go.Scatter(
            x=link_x, y=link_y, mode="lines", name="promotion (continues the parent's checkpoint)",
            line={"color": "#000000", "dash": "dot", "width": 1}, hoverinfo="skip",
        ))
    fig.update_xaxes(title="training step (fidelity)")
    fig.update_yaxes(title=esc(metric))
    return _layout(fig, height=420)


def architecture_weights(data: ReportData) -> go.Figure | None:
    """A one-shot search's mixture weights (``alpha.*``) epoch by epoch, and where its architecture stopped."""
    supernets = [t for t in data.trials if t.is_supernet]
    if not supernets:
        return None
    trial = supernets[0]
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for o in data.observations:
        if o.trial_number != trial.number:
            continue
        for key, value in o.metrics.items():
            if key.startswith("alpha.") and isinstance(value, (int, float)):
                series[key].append((o.step, float(value)))
    if not series:
        return None
    fig = go.Figure()
    for i, (key, pts) in enumerate(sorted(series.items())):
        xs, ys = zip(*sorted(pts), strict=True)
        fig.add_trace(go.Scatter(x=list(xs), y=list(ys), mode="lines+markers", name=esc(key[len("alpha."):]),
                                 line={"color": PALETTE[i % len(PALETTE)], "width": 1.5}, marker={"size": 4},
                                 hovertemplate=f"{esc(key)}<br>epoch %{{x}}: %{{y:.3f}}<extra></extra>"))  # fmt: skip
    stopped = (trial.metrics or {}).get("oneshot.architecture_stopped_at")
    if stopped:
        fig.add_vline(x=float(stopped), line={"dash": "dot", "color": "#d62728"},
                      annotation_text="architecture stopped (a failure sign)")  # fmt: skip
    fig.update_xaxes(title=f"epoch of the supernet (trial {trial.number})")
    fig.update_yaxes(title="mixture weight", range=[0, 1])
    return _layout(fig, height=380)


def _curve_metric(data: ReportData) -> str:
    """The objective reported along the curves, else the metric reported most often."""
    counts: dict[str, int] = defaultdict(int)
    for o in data.observations:
        for k in o.metrics:
            counts[k] += 1
    for obj in data.study.objectives:
        if counts.get(obj.name):
            return obj.name
    return max(counts, key=lambda k: counts[k])


# ------------------------------------------------------------------ importance
def importance_bars(imp: Importance) -> go.Figure:
    """Variance fraction of each parameter and of the strongest pairs."""
    labels = [esc(m.name) for m in imp.main] + [f"{esc(i.names[0])} × {esc(i.names[1])}" for i in imp.interactions]
    values = [m.fraction for m in imp.main] + [i.fraction for i in imp.interactions]
    colors = [DOMINATED] * len(imp.main) + ["#ff7f0e"] * len(imp.interactions)
    fig = go.Figure(go.Bar(
        x=values[::-1], y=labels[::-1], orientation="h", marker={"color": colors[::-1]},
        hovertemplate="%{y}: %{x:.1%} of the variance<extra></extra>",
    ))
    fig.update_xaxes(title="share of the variance explained", tickformat=".0%", rangemode="tozero")
    return _layout(fig, height=max(220, 28 * len(labels) + 90), margin={"l": 180, "r": 20, "t": 20, "b": 60})


def marginals(imp: Importance, space: Space, top: int = 3) -> go.Figure | None:
    """The predicted objective as each of the top parameters varies (the others averaged out)."""
    shown = [m for m in imp.main[:top] if m.fraction > 0]
    if not shown:
        return None
    fig = make_subplots(rows=1, cols=len(shown), subplot_titles=[esc(m.name) for m in shown], shared_yaxes=True)
    for j, m in enumerate(shown, start=1):
        xs = [esc(v) for v in m.values] if m.kind == "categorical" else m.values
        upper = [a + b for a, b in zip(m.mean, m.std)]
        lower = [a - b for a, b in zip(m.mean, m.std)]
        if m.kind == "categorical":
            fig.add_trace(go.Bar(x=xs, y=m.mean, error_y={"type": "data", "array": m.std, "color": INFEASIBLE},
                                 marker={"color": DOMINATED}, showlegend=False,
                                 hovertemplate="%{x}: %{y:.4g}<extra></extra>"), row=1, col=j)
        else:
            fig.add_trace(go.Scatter(x=xs + xs[::-1], y=upper + lower[::-1], fill="toself", mode="lines",
                                     line={"width": 0}, fillcolor="rgba(31,119,180,0.15)", hoverinfo="skip",
                                     showlegend=False), row=1, col=j)
            fig.add_trace(go.Scatter(x=xs, y=m.mean, mode="lines", line={"color": DOMINATED}, showlegend=False,
                                     hovertemplate="%{x:.4g}: %{y:.4g}<extra></extra>"), row=1, col=j)
            if getattr(space.parameters.get(m.name), "log", False):
                fig.update_xaxes(type="log", row=1, col=j)
    fig.update_yaxes(title=f"predicted {esc(imp.objective)}", row=1, col=1)
    return _layout(fig, height=340, margin={"l": 70, "r": 20, "t": 60, "b": 50})


def interactions(imp: Importance) -> go.Figure | None:
    """Heat maps of the predicted objective over pairs of the top parameters."""
    if not imp.interactions:
        return None
    titles = [f"{esc(i.names[0])} × {esc(i.names[1])} ({i.fraction:.1%})" for i in imp.interactions]
    fig = make_subplots(rows=1, cols=len(imp.interactions), subplot_titles=titles, horizontal_spacing=0.12)
    for j, it in enumerate(imp.interactions, start=1):
        fig.add_trace(go.Heatmap(
            z=[list(r) for r in zip(*it.mean)], x=[short(v) for v in it.values[0]], y=[short(v) for v in it.values[1]],
            coloraxis="coloraxis", hovertemplate="%{x}, %{y}: %{z:.4g}<extra></extra>",
        ), row=1, col=j)
        fig.update_xaxes(title=esc(it.names[0]), type="category", row=1, col=j)
        fig.update_yaxes(title=esc(it.names[1]), type="category", row=1, col=j)
    fig.update_layout(coloraxis={"colorscale": "Viridis", "colorbar": {"title": {"text": f"predicted<br>{esc(imp.objective)}"}}})
    return _layout(fig, height=380, margin={"l": 70, "r": 20, "t": 60, "b": 60})


def all_figures(data: ReportData) -> dict[str, Mapping[str, Any]]:
    """Every figure of the report by the id of the element it goes in (absent when it has nothing to show)."""
    out: dict[str, Any] = {}
    for key, fig in (("fig-pareto", pareto(data)), ("fig-trajectory", trajectory(data)),
                     ("fig-curves", learning_curves(data)), ("fig-oneshot", architecture_weights(data))):
        if fig is not None:
            out[key] = fig
    for k, imp in enumerate(data.importance.values()):
        if not imp.main:
            continue
        out[f"fig-importance-{k}"] = importance_bars(imp)
        for prefix, fig in (("fig-marginals", marginals(imp, data.study.space)), ("fig-interactions", interactions(imp))):
            if fig is not None:
                out[f"{prefix}-{k}"] = fig
    return out
