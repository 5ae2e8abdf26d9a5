"""``python -m benchmarks compare``: metaml's default optimizer against every installed peer, one run.

A suite names problem families and tasks. Every optimizer sees the same problems, seeds,
budget and runner (so the same cost accounting); peers that are not installed in this
interpreter run in the peers' venv (``.venv-peers``, where NePS lives) through a child
process of this same command, and peers installed nowhere are skipped with the line that
installs them. Results are JSON lines, tables are per family with ratios against the best
peer, plots go to ``docs/img/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.peers import DEFAULT_PEERS, MO_PEERS, PEERS, missing, peer_class
from benchmarks.problems.base import ProblemUnavailable

ROOT = Path(__file__).resolve().parents[2]
#: metaml's default line in the tables: BOHB (docs/benchmarks.md); ``--metaml priorband`` and others stay available.
METAML_DEFAULT = "bohb"
#: Where the NePS venv is looked for when ``--peer-python`` is not given.
PEER_VENV_PYTHON = ROOT / ".venv-peers" / "bin" / "python"


@dataclass(frozen=True)
class Suite:
    """Problem families with their tasks, and the budget the tables are read at."""

    families: tuple[tuple[str, tuple[str, ...]], ...]
    budget_fte: float = 30.0
    #: The peers ``--peers all`` means here (default: DEFAULT_PEERS).
    peers: tuple[str, ...] | None = None
    #: metaml's optimizers when ``--metaml`` is not given (default: METAML_DEFAULT).
    metaml: tuple[str, ...] | None = None
    #: Measured by hypervolume (benchmarks.peers.mo) besides the first objective's target and regret.
    multi_objective: bool = False


LCBENCH_DEV = ("3945", "34539", "146212", "167104", "168330", "189862", "189909", "126029")
PRESETS = ("good", "moderate", "bad", "terrible")

SUITES: dict[str, Suite] = {
    "lcbench-dev": Suite((("lcbench", LCBENCH_DEV),)),
    "synthetic": Suite((("branin", PRESETS), ("hartmann6", PRESETS))),
    # One real training function for every tool: metaml's tabular pipeline on digits, 18 epochs (10 FTE).
    "tabular": Suite((("tabular", ("digits",)),), budget_fte=10.0),
    # val_error and time on the LCBench development tasks, measured by hypervolume.
    "lcbench-mo-dev": Suite((("lcbench-mo", LCBENCH_DEV),), peers=MO_PEERS, metaml=("moasha", "mohb", "bo"),
                            multi_objective=True),
}

#: Suites that others are building; named here so that the command says where they stand.
#: To add one: give its family in benchmarks/problems (a Problem per task) and an entry in SUITES.
HOOKS: dict[str, str] = {}


def suite(name: str) -> Suite:
    if name in HOOKS:
        raise ProblemUnavailable(f"suite {name!r} is not ready: {HOOKS[name]}")
    if name not in SUITES:
        raise ProblemUnavailable(f"unknown suite {name!r}; choose one of {', '.join(SUITES)}")
    return SUITES[name]


@dataclass
class Plan:
    """Which peers run here, which in the peers' venv, and which are skipped (with why)."""

    local: list[str]
    delegated: list[str]
    skipped: list[str]  # one line each: how to install


def plan_peers(names: Sequence[str], peer_python: Path | None, delegate: bool = True) -> Plan:
    """Sort the peers by where they can run; never raises for a missing library."""
    plan = Plan([], [], [])
    for name in names:
        reason = missing(name)
        if reason is None:
            plan.local.append(name)
        elif delegate and peer_python is not None and _runs_there(peer_python, name):
            plan.delegated.append(name)
        else:
            plan.skipped.append(reason)
    return plan


def _runs_there(python: Path, name: str) -> bool:
    """Whether ``name`` imports in another interpreter (the peers' venv)."""
    # Venvs link to one base interpreter: compare the paths as given, not resolved.
    if not python.exists() or python.absolute() == Path(sys.executable).absolute():
        return False
    code = f"import sys; from benchmarks.peers import missing; sys.exit(1 if missing({name!r}) else 0)"
    try:
        return subprocess.run([str(python), "-c", code], cwd=ROOT, capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def default_peer_python() -> Path | None:
    return PEER_VENV_PYTHON if PEER_VENV_PYTHON.exists() else None


def parse_peer_seeds(text: str | None) -> dict[str, int]:
    """``neps-bo=1,smac-mf=5`` -> {"neps-bo": 1, "smac-mf": 5}."""
    out: dict[str, int] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, _, n = item.partition("=")
        if name.strip() not in PEERS or not n.strip().isdigit():
            raise ProblemUnavailable(f"--peer-seeds takes NAME=N for known peers, got {item!r}")
        out[name.strip()] = int(n)
    return out


def seeds_for(name: str, seeds: int, slow_seeds: int, peer_seeds: dict[str, int]) -> int:
    """How many seeds a peer gets: an explicit override, else fewer for peers that are slow per proposal."""
    if name in peer_seeds:
        return min(seeds, peer_seeds[name])
    if name in PEERS and peer_class(name).slow:
        return min(seeds, slow_seeds)
    return seeds


def time_box_for(name: str, time_box: float | None, slow_time_box: float | None) -> float | None:
    """metaml's optimizers are never time-boxed; peers get ``time_box``, slow peers ``slow_time_box``."""
    if name not in PEERS:
        return None
    return slow_time_box if peer_class(name).slow else time_box


def start_delegate(python: Path, argv: Sequence[str], peers: Sequence[str], out: Path) -> subprocess.Popen[str]:
    """Start ``peers`` through this same command in another interpreter (the peers' venv).

    The child gets the same suite, tasks, seeds, budget and time boxes, runs only the peers
    (``--no-metaml``), never delegates again, and writes its result lines to ``out``.
    """
    cmd = [str(python), "-m", "benchmarks", "compare", *argv, "--peers", ",".join(peers), "--no-metaml",
           "--no-delegate", "--no-plots", "--out", str(out), "--json"]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, text=True)


def finish_delegate(child: subprocess.Popen[str], python: Path, peers: Sequence[str], out: Path) -> list[dict[str, Any]]:
    """Wait for the child; its result lines, or a clear error when it failed."""
    rc = child.wait()
    if rc != 0:
        raise ProblemUnavailable(f"the peers' venv ({python}) failed on {', '.join(peers)} (exit {rc}); "
                                 "rerun with --no-delegate to skip them")
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def child_argv(argv: Sequence[str]) -> list[str]:
    """The parent's arguments minus those the child sets itself."""
    drop_with_value = {"--peers", "--out", "--plots-dir", "--peer-python", "--metaml"}
    drop = {"--no-metaml", "--no-delegate", "--no-plots", "--json", "--markdown", "--parallel", "--sequential"}
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        key = a.split("=", 1)[0]
        if key in drop_with_value:
            skip = "=" not in a
            continue
        if a in drop or a == "compare":
            continue
        out.append(a)
    return out


def temp_out() -> Path:
    """An empty temporary file for a child's result lines (the caller removes it)."""
    fd, name = tempfile.mkstemp(prefix="metaml-peers-", suffix=".jsonl")
    os.close(fd)
    return Path(name)


def group_by_family(results: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        out.setdefault(r["family"] or r["problem"], []).append(r)
    return out


__all__ = ["DEFAULT_PEERS", "HOOKS", "METAML_DEFAULT", "SUITES", "Plan", "Suite", "child_argv", "finish_delegate",
           "group_by_family", "parse_peer_seeds", "plan_peers", "seeds_for", "start_delegate", "suite", "time_box_for"]
