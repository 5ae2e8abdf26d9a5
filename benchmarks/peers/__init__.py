"""Peer optimizers (Optuna, SMAC3, DEHB, NePS, Syne Tune) behind one step-by-step contract.

Each peer is an optional extra. ``make_peer`` imports a peer only when it is asked for; a
peer whose library is missing is reported by ``missing`` with the line that installs it,
and the command line skips it instead of failing.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib import metadata
from typing import Any

from benchmarks.peers.base import Peer, PerEpochRun, Request
from benchmarks.problems.base import Problem

#: spec -> "module:Class", imported on demand (each module imports its library lazily too)
PEERS: dict[str, str] = {
    "optuna-tpe": "benchmarks.peers.optuna_peer:OptunaTPE",
    "optuna-tpe-hb": "benchmarks.peers.optuna_peer:OptunaTPEHyperband",
    "optuna-random": "benchmarks.peers.optuna_peer:OptunaRandom",
    "smac-mf": "benchmarks.peers.smac_peer:SMACMultiFidelity",
    "smac-hb": "benchmarks.peers.smac_peer:SMACHyperband",
    "dehb": "benchmarks.peers.dehb_peer:DEHBPeer",
    "neps-default": "benchmarks.peers.neps_peer:NePSDefault",
    "neps-hyperband": "benchmarks.peers.neps_peer:NePSHyperband",
    "neps-priorband": "benchmarks.peers.neps_peer:NePSPriorBand",
    "neps-bo": "benchmarks.peers.neps_peer:NePSBO",
    "syne-asha": "benchmarks.peers.syne_tune_peer:SyneTuneASHA",
    "syne-bohb": "benchmarks.peers.syne_tune_peer:SyneTuneBOHB",
    # multi-objective (the lcbench-mo-dev suite)
    "optuna-mo-tpe": "benchmarks.peers.optuna_peer:OptunaMOTPE",
    "optuna-nsga2": "benchmarks.peers.optuna_peer:OptunaNSGA2",
    "smac-mo-parego": "benchmarks.peers.smac_peer:SMACMultiObjective",
    "neps-mo-hyperband": "benchmarks.peers.neps_peer:NePSMOHyperband",
    "syne-moasha": "benchmarks.peers.syne_tune_peer:SyneTuneMOASHA",
}

#: What ``compare`` runs by default. ``neps-default`` is left out because on every problem
#: here (a fidelity, no priors) NePS resolves it to ``hyperband``: it would repeat neps-hyperband.
DEFAULT_PEERS: tuple[str, ...] = (
    "optuna-tpe", "optuna-tpe-hb", "optuna-random", "smac-mf", "smac-hb", "dehb",
    "neps-hyperband", "neps-priorband", "neps-bo", "syne-asha", "syne-bohb",
)


#: What ``compare`` runs on a multi-objective suite: every peer that optimizes several objectives.
MO_PEERS: tuple[str, ...] = ("optuna-mo-tpe", "optuna-nsga2", "smac-mo-parego", "neps-mo-hyperband", "syne-moasha")


def is_peer(name: str) -> bool:
    return name in PEERS


def peer_class(name: str) -> type[Peer]:
    """The adapter class of a spec (importing only our module, not the peer's library)."""
    if name not in PEERS:
        raise KeyError(f"unknown peer {name!r}; choose one of {', '.join(PEERS)}")
    module, cls = PEERS[name].split(":")
    peer: type[Peer] = getattr(importlib.import_module(module), cls)
    return peer


def missing(name: str) -> str | None:
    """None when the peer can run in this interpreter, else one line saying how to install it."""
    cls = peer_class(name)
    absent = [m for m in cls.requires if importlib.util.find_spec(m) is None]
    if not absent:
        return None
    return f"{name}: {', '.join(absent)} not installed here; {cls.install}"


def make_peer(name: str, problem: Problem, seed: int, budget_fte: float) -> Peer:
    return peer_class(name)(problem, seed, budget_fte)


def preload(name: str) -> None:
    """Import a peer's libraries now, so that a run's overhead does not include a one-off import."""
    for module in peer_class(name).requires:
        importlib.import_module(module)


def peer_versions(names: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Versions of every distribution the named peers use (None where not installed)."""
    out: dict[str, Any] = {}
    for name in names:
        for dist in peer_class(name).distributions:
            try:
                out[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                out[dist] = None
    return out


__all__ = ["DEFAULT_PEERS", "MO_PEERS", "PEERS", "Peer", "PerEpochRun", "Request", "is_peer", "make_peer", "missing", "preload",
           "peer_class", "peer_versions"]
