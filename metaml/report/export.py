"""Export one trial: its configuration, metrics, checkpoint and a model card, into a folder.

The model card says what a reader of the exported model needs in order to trust it or not:
the objectives and where this trial sits among the trade-offs the search found, the data,
what the training cost, how to load its checkpoint and how to train it again. Only a
completed trial is exported: a failed, pruned or lost one has no model to hand over.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metaml.checkpoint import CHECKPOINT_FILE
from metaml.core.records import TrialRecord, TrialStatus
from metaml.errors import MetamlError
from metaml.lineage import lineage
from metaml.pipelines.base import PROVENANCE_FILE
from metaml.pipelines.baseline import builtin_pipeline
from metaml.report.caveats import interval_of, study_caveats
from metaml.report.provenance import provenance, reproduce_snippet
from metaml.report.summary import find_trial
from metaml.study import Study


def trade_off(study: Study, trial: TrialRecord, trials: Sequence[TrialRecord]) -> str:
    """Where ``trial`` sits among the results, in words (on the front, dominated, over a limit, ...)."""
    if trial.status is not TrialStatus.COMPLETED:
        return f"This trial did not complete ({trial.status.value}), so it has no place among the results."
    results = study.results(trials)
    final = results.final
    if trial.number not in {t.number for t in final}:
        return (f"This trial was trained to fidelity {trial.fidelity} only, short of the full run "
                f"({study.full_fidelity}); the Pareto front is made of full runs, so it is not on it.")
    broken = [o for o in study.objectives if not o.feasible((trial.metrics or {})[o.name])]
    if broken:
        return "It breaks the limit of " + ", ".join(
            f"{o.name} ({'at most' if o.goal == 'min' else 'at least'} {o.limit:g})" for o in broken
        ) + ", so it is not on the Pareto front."
    front = results.front
    numbers = [t.number for t in front]
    if trial.number not in numbers:
        losses = {o.name: o.sign * (trial.metrics or {})[o.name] for o in study.objectives}
        better = [t.number for t in front
                  if all(o.sign * (t.metrics or {})[o.name] <= losses[o.name] for o in study.objectives)]
        return f"It is not on the Pareto front: trial(s) {', '.join(map(str, better[:10]))} are at least as good on every objective."
    if len(study.objectives) == 1:
        return f"It is the best trial on {study.objectives[0].name}." if len(front) == 1 else \
            f"It ties with trial(s) {', '.join(str(n) for n in numbers if n != trial.number)} for the best {study.objectives[0].name}."
    if len(front) == 1:
        return "It is the only trial on the Pareto front: no other full-fidelity trial within the limits dominates it."
    ranks = []
    for o in study.objectives:
        order = sorted(front, key=lambda t: o.sign * (t.metrics or {})[o.name])
        rank = 1 + [t.number for t in order].index(trial.number)
        ranks.append(f"{'best' if rank == 1 else f'{_ordinal(rank)} best'} on {o.name}")
    return (f"It is on the Pareto front ({len(front)} trials, none better on every objective): among them it is "
            + ", ".join(ranks) + ". Choosing it trades the objectives that way.")


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def lineage_cost(trial: TrialRecord, trials: Sequence[TrialRecord]) -> tuple[float, list[int]]:
    """FTE of this trial plus the trials it continued (a promotion's model holds their training too)."""
    by_number = {t.number: t for t in trials}
    total, chain, current = trial.cost_fte, [trial.number], trial
    while current.continue_from is not None and current.continue_from in by_number and current.continue_from not in chain:
        current = by_number[current.continue_from]
        total += current.cost_fte
        chain.append(current.number)
    return total, chain


SCHEDULE_FILE = "schedule.json"


def write_schedule(out: Path, trial: TrialRecord, trials: Sequence[TrialRecord], names: Sequence[str]) -> Path:
    """``schedule.json``: the schedulable values the model trained with, per segment and per step, and its lineage.

    A new study replays it as a fixed schedule with ``schedule: schedule.json`` in its study file.
    """
    chain = lineage(trial, trials)
    schedule = chain.schedule(names)
    end = int(chain.links[-1].end)
    payload = {
        "trial": trial.number,
        "schedule": schedule.to_dict(),
        "per_step": {n: [schedule.value(n, step) for step in range(1, end + 1)] for n in schedule.names},
        "lineage": chain.to_dict(),
    }
    path = out / SCHEDULE_FILE
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def checkpoint_contents(path: Path) -> tuple[list[str], float | None]:
    """The names of the state dicts a checkpoint holds and its step (no names when it cannot be read)."""
    try:
        import torch

        payload = torch.load(path, weights_only=True, map_location="cpu")
        return [str(k) for k in payload["states"]], float(payload["step"])
    except Exception:  # torch raises many kinds for a file that is not a checkpoint; the card then says so
        return [], None


def load_snippet(names: Sequence[str], step: float | None, pipeline: str | None) -> list[str]:
    """The card's "To load the model" section: the checkpoint's layout and three lines that load it."""
    key = "model" if "model" in names or not names else names[0]
    held = (f"the state dicts {', '.join(f'`{n}`' for n in names)} at step {step:g}" if names and step is not None
            else "the state dicts the training function passed to `trial.checkpoint` (it could not be read here)")
    build = (f"as the {pipeline} pipeline builds it from the resolved configuration in `{PROVENANCE_FILE}` and the data's shape"
             if pipeline else "as the training function builds it from `config.json`")
    lines = ["## To load the model", "",
             f"`{CHECKPOINT_FILE}` holds a dict: `step`, `states` (by name: {held}) and `rng` (the random states "
             f"to resume training). Build `model` {build}, then, in this folder:", "",
             "```python", "import torch",
             f'states = torch.load("{CHECKPOINT_FILE}", weights_only=True, map_location="cpu")["states"]',
             f'model.load_state_dict(states["{key}"])', "```"]
    if "swa" in names:
        lines += ["", 'This trial averaged its weights (SWA): `states["swa"]` is the state of a '
                  "`torch.optim.swa_utils.AveragedModel(model)`, the average its metrics were measured with."]
    if "snapshots" in names:
        lines += ["", 'This trial ensembled snapshots: `states["snapshots"]` holds the members its metrics averaged.']
    return lines


def fairness_lines(study: Study, trial: TrialRecord, trials: Sequence[TrialRecord]) -> list[str]:
    """The card's fairness section: each fairness metric's groups, and the caveats on this model."""
    lines: list[str] = []
    for metric, b in (trial.details.get("fairness") or {}).items():
        pair = b.get("pair") or {}
        lines += ["", f"## Groups behind {metric}", "",
                  f"{metric} = {b.get('value', float('nan')):.4g} on the validation split, {b.get('compared', '')}"
                  + (f"; set by {pair['high']} against {pair['low']} on the {str(pair['rate']).replace('_', ' ')}"
                     if pair else "") + f"; {100 * float(b.get('positive_rate', 0.0)):.1f}% of rows predicted positive.",
                  "", "| group | rows | " + " | ".join(r.replace("_", " ") for r in b.get("rates", [])) + " | error |",
                  "|---|---|" + "---|" * len(b.get("rates", [])) + "---|"]  # fmt: skip
        for g in b.get("groups", []):
            flag = " (under {} rows)".format(b.get("min_group_size")) if g["group"] in (b.get("small_groups") or []) else ""
            rates = " | ".join("–" if g.get(r) is None else f"{g[r]:.4g}" for r in b.get("rates", []))
            error = "–" if g.get("error_rate") is None else f"{g['error_rate']:.4g}"
            lines.append(f"| {g['group']}{flag} | {g['n']} | {rates} | {error} |")
    mine = [c for c in study_caveats(study, trials) if not c.trials or trial.number in c.trials]
    if mine:
        lines += ["", "## Caveats", "", *(f"- {c.message}." for c in mine)]
    return lines


def chosen_lines(study: Study, trial: TrialRecord) -> list[str]:
    """Who chose this model as the trade-off to use (``metaml choose --pick``), when and why; nothing if no one did."""
    lines = []
    for i in study.interventions():
        if i.action == "choose" and i.trial == trial.number:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(i.time))
            lines += ["", f"**Chosen** as the trade-off to use by {i.author} on {when}"
                      + (f": {i.reason}" if i.reason else "") + "."]
    return lines


def interventions_lines(study: Study, trial: TrialRecord) -> list[str]:
    """The model card's account of what experts changed during the search, and whether this trial came after it."""
    done = study.interventions()
    if not done:
        return []
    lines = ["", "## Interventions during the search", "",
             "What experts changed while the search ran; the limits above are the ones in force now."]
    for i in done:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(i.time))
        after = trial.created_at is not None and trial.created_at > i.time
        lines.append(f"- {when}: {i.describe()} ({'before' if after else 'after'} this trial was proposed)")
    return lines


def model_card(study: Study, trial: TrialRecord, trials: Sequence[TrialRecord], has_checkpoint: bool,
               study_file: str | Path | None = None) -> str:
    """The MODEL_CARD.md text of one trial."""
    pv = provenance(study, study_file, [trial])
    names = [o.name for o in study.objectives]
    cost, chain = lineage_cost(trial, trials)
    total = math.fsum(t.cost_fte for t in trials)
    lines = [
        f"# Model card: {study.name}, trial {trial.number}",
        "",
        f"Trained by the training function `{pv['function'] or 'not recorded'}` as trial {trial.number} of the "
        f"metaml study `{study.name}` (store `{study.store_url}`), "
        f"status **{trial.status.value}**" + (f", fidelity {trial.fidelity:g}" if trial.fidelity is not None else "") + ".",
    ]
    if trial.error:
        lines += ["", f"The trial failed: `{trial.error}`"]
    lines += ["", "## Objectives and the trade-off chosen", "",
              "| objective | goal | limit | this model |", "|---|---|---|---|"]
    for o in study.objectives:
        value = (trial.metrics or {}).get(o.name)
        found = interval_of(trial, o.name)
        shown = "–" if value is None else f"{value:.6g}" + ("" if found is None else f" [{found[0]:.4g}, {found[1]:.4g}]")
        lines.append(f"| {o.name} | {o.goal} | {'none' if o.limit is None else f'{o.limit:g}'} | {shown} |")
    if any(interval_of(trial, o.name) for o in study.objectives):
        lines += ["", "In brackets: the 95% bootstrap interval over the validation rows (resampled within each "
                  "group, seeded; nothing retrained)."]
    extra = {k: v for k, v in (trial.metrics or {}).items() if k not in names}
    if extra:
        lines += ["", "Other metrics: " + ", ".join(f"{k} = {v:.6g}" if isinstance(v, float) else f"{k} = {v}"
                                                    for k, v in extra.items()) + "."]
    lines += ["", trade_off(study, trial, trials), *fairness_lines(study, trial, trials), *chosen_lines(study, trial),
              *interventions_lines(study, trial), "", "## Data", ""]
    lines.append(study.record.metadata.description or "The study records no description of its data.")
    lines.append("")
    lines.append(f"Data hash: `{pv['data_hash']}`." if pv["data_hash"] else
                 f"No hash of the data was recorded, neither with the study nor in the trial's `{PROVENANCE_FILE}`.")
    lines += ["", "## Training cost", "",
              f"- this trial: {trial.cost_fte:.4g} full-training equivalents (FTE)"
              + (f", {trial.duration:.1f} s" if trial.duration is not None else ""),
              ]
    if len(chain) > 1:
        lines.append(f"- with the trials it continued ({' ← '.join(map(str, chain))}): {cost:.4g} FTE")
    lines.append(f"- the whole search: {total:.4g} FTE over {len(trials)} trials")
    lines += ["", "## Configuration", "", "```json", json.dumps(trial.config, indent=2, sort_keys=True, default=str), "```", ""]
    if has_checkpoint:
        spec = builtin_pipeline(pv["function"])
        names, step = checkpoint_contents(study.trial_directory(trial.number) / CHECKPOINT_FILE)
        lines += [*load_snippet(names, step, spec.name if spec else None), ""]
    lines += ["## To train it again", "", "```python", reproduce_snippet(study, trial), "```",
              "", "## Versions", ""]
    lines.append(f"- at creation of the study: metaml {pv['metaml_version'] or '?'}, Python {pv['python'] or '?'}, "
                 f"{pv['platform'] or '?'}; seed {study.seed}")
    lines.append("- installed where this card was written: "
                 + ", ".join(f"{k} {v}" for k, v in pv["installed_packages"].items()))
    if pv["git"]:
        when = "recorded with the study" if pv["git_recorded"] else "of the study file's folder when this card was written"
        lines.append(f"- code: git commit `{pv['git']['commit']}`{' with uncommitted changes' if pv['git']['dirty'] else ''} ({when})")
    lines += ["", "## Files", "", "- `config.json`: the configuration, as the training function receives it",
              "- `metrics.json`: the trial's metrics, status, fidelity and cost",
              "- `checkpoint.pt`: the trial's last checkpoint (model, optimizer and scheduler state)" if has_checkpoint
              else "- no checkpoint: the trial saved none (its training function does not call `trial.checkpoint`, "
                   "or its artifacts folder was removed)"]
    if (study.trial_directory(trial.number) / PROVENANCE_FILE).is_file():
        lines.append(f"- `{PROVENANCE_FILE}`: the pipeline's resolved configuration and the data's hash and split sizes")
    lines.append("")
    return "\n".join(lines)


def export_trial(study: Study, number: int, directory: str | Path, *, study_file: str | Path | None = None) -> list[Path]:
    """Write the trial's config.json, metrics.json, checkpoint (if any) and MODEL_CARD.md; return the paths."""
    trials = study.trials()
    trial = find_trial(study, number, trials)
    if trial.imported is not None:
        raise MetamlError(
            f"trial {trial.number} of study {study.name!r} was imported from {trial.imported.get('source', 'elsewhere')}: "
            "it was not trained here, so there is no model to export; its configuration and metrics are in "
            "`metaml trials`"
        )
    if trial.status is not TrialStatus.COMPLETED:
        front = [t.number for t in study.results(trials).front]
        why = f" ({trial.error})" if trial.error else ""
        raise MetamlError(
            f"trial {trial.number} of study {study.name!r} is {trial.status.value}{why}: it has no trained model to "
            "export. Export a completed trial" + (f", e.g. one on the Pareto front: {', '.join(map(str, front))}" if front
                                                  else "; `metaml trials` lists them")
        )
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise MetamlError(f"cannot export into {out}: it is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    config_path = out / "config.json"
    config_path.write_text(json.dumps(trial.config, indent=2, sort_keys=True, default=str) + "\n")
    written.append(config_path)
    metrics: dict[str, Any] = {
        "study": study.name, "trial": trial.number, "status": trial.status.value, "metrics": trial.metrics,
        "fidelity": trial.fidelity, "continue_from": trial.continue_from, "cost_fte": trial.cost_fte,
        "duration_s": trial.duration, "error": trial.error,
        "objectives": [o.to_dict() for o in study.objectives],
    }
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    written.append(metrics_path)
    source = study.trial_directory(trial.number) / CHECKPOINT_FILE
    if source.is_file():
        shutil.copy2(source, out / CHECKPOINT_FILE)
        written.append(out / CHECKPOINT_FILE)
    record = study.trial_directory(trial.number) / PROVENANCE_FILE
    if record.is_file():  # a built-in pipeline's resolved config and data hash: what loading the model needs
        shutil.copy2(record, out / PROVENANCE_FILE)
        written.append(out / PROVENANCE_FILE)
    if study.space.schedulable:
        written.append(write_schedule(out, trial, trials, study.space.schedulable))
    card = out / "MODEL_CARD.md"
    card.write_text(model_card(study, trial, trials, source.is_file(), study_file))
    written.append(card)
    return written
