"""The reproducibility record: versions, platform, seed, the study file, the data and the code's commit.

The store records what was known when the study was created (``record.info``); what it
does not record (e.g. the versions of torch or the git commit at run time, unless a caller
put them in ``info``) is read now, at report time, and labelled so, never passed off as
the state of the run.
"""

from __future__ import annotations

import json
import platform as platform_module
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from metaml.core.records import TrialRecord
from metaml.pipelines.base import PROVENANCE_FILE

if TYPE_CHECKING:
    from metaml.study import Study

#: Distributions whose versions decide whether a result can be reproduced.
PACKAGES = ("metaml", "torch", "numpy", "scikit-learn", "botorch", "scipy")


def installed_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Versions of the packages installed here (those that are)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit(folder: Path) -> dict[str, Any] | None:
    """The git commit of ``folder`` now, and whether it has uncommitted changes (None: not a repository)."""
    if not folder.is_dir():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip()), "folder": str(folder)}


def study_function(study: Study) -> str | None:
    """The ``module:function`` the study file names, if the store holds the file."""
    text = study.record.metadata.study_yaml
    if not isinstance(text, str):
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    fn = data.get("function") if isinstance(data, dict) else None
    return fn if isinstance(fn, str) and ":" in fn else None


def study_file_path(study: Study, given: str | Path | None) -> Path | None:
    """The study file: the one the command was given, else the one recorded at creation (if it still exists)."""
    if given:
        return Path(given).resolve()
    recorded = study.record.metadata.study_file
    if isinstance(recorded, str) and Path(recorded).exists():
        return Path(recorded).resolve()
    return None


def reproduce_snippet(study: Study, trial: TrialRecord) -> str:
    """Python that trains ``trial``'s configuration again, in a fresh study of its own.

    The trial runs from scratch up to its fidelity: a promoted trial continued a checkpoint,
    and by the prefix invariant training straight to the same fidelity gives the same model
    when the training function honours it (same seeds, schedule defined on the full run).
    """
    fn = study_function(study)
    module, func = fn.split(":", 1) if fn else ("your_module", "train")
    # Written into a raw triple-quoted string: JSON's escapes reach json.loads unchanged, and
    # JSON text never holds three unescaped quotes in a row.
    config = json.dumps(trial.config, indent=4, sort_keys=True)
    fidelity = "None" if trial.fidelity is None else repr(float(trial.fidelity))
    where = "the folder of the study file" if fn else "the folder of your training code"
    return "\n".join([
        f"# Run in {where}; it trains trial {trial.number}'s configuration again, from scratch.",
        "import json",
        "",
        "import metaml",
        f"from {module} import {func}",
        "",
        f"source = metaml.Study.load({study.name!r}, store={study.store_url!r})",
        'config = json.loads(r"""' + config + '""")',
        "replay = metaml.Study.create(",
        f"    {study.name + '-replay-' + str(trial.number)!r}, source.space, list(source.objectives),",
        f"    store={'replay-' + str(trial.number) + '.db'!r}, seed=source.seed,",
        ")",
        f"replay.enqueue(config, fidelity={fidelity})",
        f"replay.optimize({func}, {{'trials': 1}})",
        "print(replay.trials()[-1].metrics)",
    ])


def data_hashes(study: Study, trials: Sequence[TrialRecord]) -> dict[str, list[int]]:
    """The trials of each data content hash, as the provenance file beside each checkpoint records it.

    A built-in pipeline writes ``pipeline.json`` (its resolved config and the data's hash and
    split sizes) into every trial's folder; a user's function may write none. More than one
    hash means the data changed while the study ran.
    """
    out: dict[str, list[int]] = {}
    for t in trials:
        try:
            record = json.loads((study.trial_directory(t.number) / PROVENANCE_FILE).read_text())
        except (OSError, ValueError):
            continue
        digest = record.get("data", {}).get("content_hash") if isinstance(record, dict) else None
        if isinstance(digest, str) and digest:
            out.setdefault(digest, []).append(t.number)
    return out


def provenance(
    study: Study, study_file: str | Path | None = None, trials: Sequence[TrialRecord] | None = None
) -> dict[str, Any]:
    """Everything needed to judge whether the study can be run again to the same results.

    The data hash is the one given at the study's creation, else the one the trials'
    provenance files agree on (``data_hashes`` lists them all, by hash, of ``trials`` or of
    every trial).
    """
    info = study.record.metadata
    path = study_file_path(study, study_file)
    recorded_git = info.git
    hashes = data_hashes(study, study.trials() if trials is None else trials)
    return {
        "metaml_version": info.metaml_version,
        "python": info.python,
        "platform": info.platform,
        "host": info.host,
        "command": info.command,
        "created_at": study.record.created_at,
        "seed": study.seed,
        "optimizer": {"name": study.record.optimizer, "settings": study.record.optimizer_settings},
        "study_file": str(path) if path else info.study_file,
        "study_yaml": info.study_yaml,
        "function": study_function(study),
        "data_hash": info.data_hash or (next(iter(hashes)) if len(hashes) == 1 else None),
        "data_hashes": hashes,
        "recorded_packages": None if info.packages is None else dict(info.packages),
        # Read now: the store does not hold them unless the run put them in info.
        "installed_packages": installed_versions(),
        "report_python": sys.version.split()[0],
        "report_platform": platform_module.platform(),
        "git": dict(recorded_git) if recorded_git is not None else (git_commit(path.parent) if path else None),
        "git_recorded": recorded_git is not None,
        "store": study.store_url,
    }
