"""Fault injection: real studies under kill -9 of workers and coordinators and stale-worker pauses.

Run: ``python -m benchmarks.chaos [--kills 100] [--coordinator-kills 10] [--pauses 20]
[--backends sqlite,postgresql] [--seed 0] [--quick] [--out chaos.json]``

Each study is a multi-fidelity search (Hyperband and ASHA in turn, so there are promotions
that continue a checkpoint) over a cheap trial function that sleeps, reports and checkpoints
every epoch. It runs as one ``metaml run --workers N`` (the coordinator, with its worker
processes) plus ``metaml worker`` processes on the same store, with a small ``heartbeat`` and
``stale_after``. A seeded ``numpy.random.Generator`` picks the moment, the kind and the
target of each fault:

- kill -9 of a worker (a ``metaml worker`` or a worker process of the coordinator), one that
  holds a running trial when there is one; a killed ``metaml worker`` is started again;
- kill -9 of the coordinator, which is started again (a resume);
- a pause: SIGSTOP of a worker that holds a trial, past ``stale_after``, then SIGCONT.

When a study's share of the faults is spent, what still runs is killed -9 (the whole job
dies) and the study is rerun, once, without faults. Then the store is checked, read-only:

- trials lost or duplicated: numbers 0..N-1 each once, each created by one proposal, none
  left queued or running, no trial promoted twice;
- results from a fenced worker: a trial's result carries the claim (attempt) and the process
  that computed it, which must be the trial's last claim and its recorded worker; a curve
  point carries, per claim that wrote it, the moment the write was made, which must precede
  the end of that claim (from the store's requeue and lost events);
- duplicate curve points (a trial and a step twice), budget overshoot (the FTE charged over
  the budget), and unpaid epochs: a trial trains each step it reports at least once and only
  reports steps it trained, so its ``cost_fte`` times the full fidelity is at least the
  number of distinct steps on its curve;
- claims ended in the name of a worker other than the one that held them (a target), and
  claims ended in the name of a worker that no fault hit (a figure: a live worker late past
  ``stale_after`` on busy cores);
- every study finished (``metaml run`` exit 0) after at most one rerun, and no process of a
  killed coordinator alive a few seconds after its death.

Every worker process appends what its trial function did (each report and checkpoint, its
claim, and whether the store refused it) to a journal, so that the runs a fenced worker
stopped with ``ClaimLostError`` are counted. PostgreSQL comes from
``METAML_BENCH_POSTGRES_URL`` or a throwaway cluster from the local server binaries.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: Where a worker process appends its journal (one file per process), and the seconds per epoch.
JOURNAL_ENV, SLEEP_ENV = "METAML_CHAOS_JOURNAL", "METAML_CHAOS_SLEEP"
#: The study's fidelity: epochs 1..9, rungs 1, 3 and 9 with eta 3.
FULL_FIDELITY = 9
#: Seconds after a coordinator's kill -9 by which its worker processes must be gone.
ORPHAN_DEADLINE_S = 8.0
#: Slack for float sums of FTE.
EPSILON = 1e-9


# ------------------------------------------------------------------ the trial function
class Journal:
    """Appends one JSON line per write a trial function makes; a kill -9 loses nothing already written."""

    def __init__(self, folder: str, number: int, attempt: int | None) -> None:
        self.fd = os.open(Path(folder) / f"{os.getpid()}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.base = {"pid": os.getpid(), "trial": number, "attempt": attempt}

    def write(self, op: str, **data: Any) -> None:
        os.write(self.fd, (json.dumps({**self.base, "op": op, **data}) + "\n").encode())

    def call(self, op: str, step: int | None, fn: Callable[..., Any], *args: Any, t0: float | None = None,
             metrics: dict[str, Any] | None = None) -> Any:
        """Run one write of the trial and journal it: ``ok`` True, False (ClaimLostError) or None (another error)."""
        from metaml.errors import ClaimLostError

        t0 = time.time() if t0 is None else t0
        try:
            result = fn(*args, **(metrics or {}))
        except BaseException as exc:
            self.write(op, step=step, t0=t0, t1=time.time(), ok=False if isinstance(exc, ClaimLostError) else None)
            raise
        self.write(op, step=step, t0=t0, t1=time.time(), ok=True)
        return result

    def close(self) -> None:
        os.close(self.fd)


class _NoJournal(Journal):
    def __init__(self) -> None:
        pass

    def write(self, op: str, **data: Any) -> None:
        pass

    def close(self) -> None:
        pass


def train(config: dict, trial: Any) -> dict:
    """The benchmark's trial: one short sleep per epoch, each epoch reported and checkpointed, every write journaled.

    Its result names the claim and the process that computed it; each curve point carries,
    under ``a<claim>``, the moment that claim's write was made.
    """
    folder = os.environ.get(JOURNAL_ENV)
    journal = Journal(folder, trial.number, trial.attempt) if folder else _NoJournal()
    sleep = float(os.environ.get(SLEEP_ENV, "0.1"))
    try:
        start = int(journal.call("restore", None, trial.restore))
        loss = 1.0
        for epoch in range(start, int(trial.fidelity)):
            time.sleep(sleep)
            step = epoch + 1
            loss = (config["x"] - 0.3) ** 2 + (config["y"] - 0.6) ** 2 + 1.0 / step
            token = time.time()
            journal.call("report", step, trial.report, step, t0=token, metrics={"loss": loss, f"a{trial.attempt}": token})
            journal.call("checkpoint", step, trial.checkpoint, step)
        journal.write("return", step=int(trial.fidelity), t0=time.time())
        return {"loss": loss, "attempt": trial.attempt, "pid": os.getpid()}
    finally:
        journal.close()


# ------------------------------------------------------------------------ settings
@dataclass(frozen=True)
class ChaosSettings:
    """What one benchmark run does, per backend."""

    kills: int = 100  # kill -9 of workers
    coordinator_kills: int = 10  # kill -9 of `metaml run`
    pauses: int = 20  # SIGSTOP past stale_after, then SIGCONT
    studies: int = 4  # the faults are shared out among this many studies
    seed: int = 0
    budget_fte: float = 12.0
    epoch_s: float = 0.15  # the trial's sleep per epoch
    coordinator_workers: int = 2  # `metaml run --workers N`
    workers: int = 2  # `metaml worker` processes beside it
    heartbeat: float = 0.5
    stale_after: float = 2.5
    retries: int = 6
    interval_s: float = 0.7  # mean seconds between two faults (exponential)
    rerun_timeout_s: float = 300.0

    @property
    def pause_s(self) -> float:
        """A pause outlasts the stale time and the recovery sweep that follows it (one heartbeat)."""
        return self.stale_after + 3 * self.heartbeat + 1.0


QUICK = ChaosSettings(
    kills=4, coordinator_kills=1, pauses=1, studies=1, budget_fte=2.0, epoch_s=0.1, workers=1, heartbeat=0.3,
    stale_after=1.5, interval_s=0.5,
)


# --------------------------------------------------------------------------- processes
@dataclass
class Proc:
    """A process this benchmark started (its own session, so its descendants can be found)."""

    popen: subprocess.Popen
    role: str  # "coordinator" or "worker"
    log: Path
    killed_at: float | None = None


@dataclass
class Fleet:
    """The processes of one study: a coordinator and ``metaml worker`` processes, restarted when killed."""

    yaml: Path
    folder: Path
    settings: ChaosSettings
    env: dict[str, str]
    procs: list[Proc] = field(default_factory=list)
    killed_coordinators: list[Proc] = field(default_factory=list)
    paused: dict[int, float] = field(default_factory=dict)  # pid -> when to resume
    faulted: set[int] = field(default_factory=set)  # pids a fault hit: killed, paused, or of a killed coordinator
    exits: list[dict[str, Any]] = field(default_factory=list)  # processes that ended by themselves

    def start(self, role: str) -> Proc:
        n = len(self.procs) + len(self.killed_coordinators)
        log = self.folder / f"{role}-{n}.log"
        if role == "coordinator":
            cmd = ["run", str(self.yaml), "--workers", str(self.settings.coordinator_workers)]
        else:
            cmd = ["worker", str(self.yaml)]
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "metaml", *cmd], cwd=self.folder, env=self.env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        proc = Proc(popen, role, log)
        self.procs.append(proc)
        return proc

    def reap(self) -> None:
        """Forget processes that ended by themselves (their exit code is kept)."""
        for p in list(self.procs):
            if p.popen.poll() is not None:
                self.procs.remove(p)
                self.exits.append({"role": p.role, "pid": p.popen.pid, "rc": p.popen.returncode})

    def workers(self) -> list[int]:
        """Live worker pids: the ``metaml worker`` processes and the coordinators' worker processes."""
        pids = [p.popen.pid for p in self.procs if p.role == "worker"]
        for p in self.procs:
            if p.role == "coordinator":
                pids += [pid for pid, ppid in session(p.popen.pid).items() if pid != p.popen.pid and ppid != p.popen.pid]
        return [pid for pid in pids if pid not in self.paused]

    def kill(self, pid: int) -> None:
        """kill -9 one process; one of ours is started again (a scheduler would), a coordinator's is replaced by it."""
        self.faulted.add(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        ours = next((p for p in self.procs if p.popen.pid == pid), None)
        if ours is None:
            return
        ours.popen.wait()
        self.faulted.update(session(pid))  # a coordinator's worker processes die with it
        ours.killed_at = time.time()
        self.procs.remove(ours)
        if ours.role == "coordinator":
            self.killed_coordinators.append(ours)
        self.start(ours.role)

    def pause(self, pid: int) -> None:
        self.faulted.add(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
            self.paused[pid] = time.time() + self.settings.pause_s

    def resume_due(self, everything: bool = False) -> None:
        for pid, due in list(self.paused.items()):
            if everything or time.time() >= due:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
                del self.paused[pid]

    def kill_all(self) -> None:
        """The whole job dies: every process kill -9, coordinators first (their workers must leave by themselves)."""
        self.resume_due(everything=True)
        for p in sorted(self.procs, key=lambda p: p.role != "coordinator"):
            self.faulted.update({p.popen.pid, *session(p.popen.pid)})
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.popen.pid, signal.SIGKILL)
            p.popen.wait()
            self.faulted.update(session(p.popen.pid))
            p.killed_at = time.time()
            if p.role == "coordinator":
                self.killed_coordinators.append(p)
        self.procs.clear()

    def orphans(self) -> int:
        """Processes of killed coordinators still alive past the deadline (then killed, so none outlives the study)."""
        left = 0
        for p in self.killed_coordinators:
            wait = (p.killed_at or 0.0) + ORPHAN_DEADLINE_S - time.time()
            deadline = time.time() + max(0.0, wait)
            while session(p.popen.pid) and time.time() < deadline:
                time.sleep(0.1)
            for pid in session(p.popen.pid):
                left += 1
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        return left


def session(sid: int) -> dict[int, int]:
    """Live (not zombie) processes of session ``sid``: pid -> parent pid."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, ppid, own_sid = fields[0], int(fields[1]), int(fields[3])
        if own_sid == sid and state != "Z":
            found[int(entry.name)] = ppid
    return found


# ------------------------------------------------------------------------ the faults
@dataclass
class Quota:
    """Faults still to inject on one backend, shared out among its studies."""

    kills: int
    coordinator_kills: int
    pauses: int

    def total(self) -> int:
        return self.kills + self.coordinator_kills + self.pauses

    def share(self, studies_left: int) -> Quota:
        def part(n: int) -> int:
            return -(-n // max(1, studies_left))

        return Quota(part(self.kills), part(self.coordinator_kills), part(self.pauses))

    def draw(self, rng: np.random.Generator) -> str:
        kinds = ["kill", "coordinator_kill", "pause"]
        weights = np.array([self.kills, self.coordinator_kills, self.pauses], dtype=float)
        return kinds[int(rng.choice(3, p=weights / weights.sum()))]

    def spend(self, kind: str) -> None:
        name = {"kill": "kills", "coordinator_kill": "coordinator_kills", "pause": "pauses"}[kind]
        setattr(self, name, getattr(self, name) - 1)


@dataclass
class Faults:
    """What was injected into one study."""

    kills: int = 0
    busy_kills: int = 0  # of those, workers that held a running trial
    coordinator_kills: int = 0
    pauses: int = 0
    paused_trials: list[dict[str, Any]] = field(default_factory=list)
    final_kills: int = 0  # processes killed when the study's share of faults was spent


def _held_by(store: Any, study_id: int) -> dict[int, list[tuple[int, int]]]:
    """pid -> the (trial, claim) pairs it holds, for workers on this machine."""
    from metaml.store import TrialStatus

    host = socket.gethostname()
    held: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for t in store.trials(study_id, [TrialStatus.RUNNING]):
        who, _, pid = (t.worker or "").rpartition(":")
        if who == host and pid.isdigit():
            held[int(pid)].append((t.number, t.attempt))
    return held


def _inject_one(kind: str, fleet: Fleet, store: Any, study_id: int, rng: np.random.Generator, faults: Faults,
                patient: bool) -> bool:
    """Inject one fault of ``kind``; False when it has no target now (a pause needs a busy worker)."""
    if kind == "coordinator_kill":
        coordinators = [p for p in fleet.procs if p.role == "coordinator"]
        if not coordinators:
            return False
        fleet.kill(coordinators[0].popen.pid)
        faults.coordinator_kills += 1
        return True
    live = fleet.workers()
    held = _held_by(store, study_id)
    busy = [pid for pid in live if pid in held]
    if kind == "pause":
        if not busy:
            return False
        pid = int(rng.choice(busy))
        fleet.pause(pid)
        faults.pauses += 1
        faults.paused_trials += [{"pid": pid, "trial": n, "attempt": a, "at": time.time()} for n, a in held[pid]]
        return True
    targets = busy or ([] if patient else live)
    if not targets:
        return False
    pid = int(rng.choice(targets))
    fleet.kill(pid)
    faults.kills += 1
    faults.busy_kills += pid in held
    return True


def inject(fleet: Fleet, store: Any, study_id: int, quota: Quota, rng: np.random.Generator,
           settings: ChaosSettings, limit_s: float) -> Faults:
    """Inject the study's share of faults at random moments; stop early when every process ended by itself."""
    faults = Faults()
    begun = time.time()
    next_at = begun + rng.exponential(settings.interval_s)
    waiting_since: float | None = None
    while quota.total() > 0 and time.time() - begun < limit_s:
        time.sleep(0.05)
        fleet.resume_due()
        fleet.reap()
        if not fleet.procs:
            break  # the study ended by itself: the rest of the faults go to the next study
        if time.time() < next_at:
            continue
        kind = quota.draw(rng)
        waiting_since = waiting_since or time.time()
        patient = time.time() - waiting_since < 5.0  # a kill waits a while for a worker that holds a trial
        if _inject_one(kind, fleet, store, study_id, rng, faults, patient):
            quota.spend(kind)
            waiting_since = None
            next_at = time.time() + rng.exponential(settings.interval_s)
        else:
            next_at = time.time() + 0.2
    settle(fleet, settings)
    return faults


def settle(fleet: Fleet, settings: ChaosSettings) -> None:
    """Let every paused worker resume and meet its fencing (a heartbeat and an epoch) before the job is killed."""
    quiet_until = time.time()
    while fleet.procs and (fleet.paused or time.time() < quiet_until):
        if fleet.paused:
            quiet_until = max(fleet.paused.values()) + 2 * settings.heartbeat + settings.epoch_s + 1.0
        time.sleep(0.05)
        fleet.resume_due()
        fleet.reap()


# ---------------------------------------------------------------------- the checks
@dataclass
class Check:
    """What the store (read-only) and the journals say about one study after its rerun."""

    trials: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    missing: int = 0  # numbers absent from 0..N-1, or proposed without a trial
    duplicated: int = 0  # numbers twice, trials created twice, parents promoted twice
    unfinished: int = 0  # still queued or running
    fenced_results: int = 0  # results not from the trial's last claim and its recorded worker
    fenced_points: int = 0  # curve writes made after their claim had ended
    fenced_checkpoints: int = 0  # checkpoints written after their claim had ended (journal)
    refused_but_recorded: int = 0  # writes the store refused (ClaimLostError) that are in it anyway
    duplicate_points: int = 0
    overshoot_fte: float = 0.0
    unpaid_trials: int = 0
    cost_fte: float = 0.0
    points: int = 0
    claims: int = 0
    claims_unaccounted: int = 0  # claims whose end no requeue, lost or finish records
    revoked_in_another_name: int = 0  # claims ended as a dead worker's while another process held them
    ended_unfaulted: int = 0  # claims ended in the name of a worker no fault hit (a live one, slow past stale_after)
    stale_claims: int = 0  # claims ended because their heartbeat stopped (a pause, or a worker killed elsewhere)
    paused_claims_ended: int = 0  # claims of paused workers that ended during the pause (the worker was fenced)
    claim_lost_stops: int = 0  # runs stopped by ClaimLostError (journal)
    ran_twice: int = 0  # trials whose function returned more than once (at-least-once execution)
    examples: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)


def read_journal(folder: Path) -> list[dict[str, Any]]:
    """Every line the worker processes journaled (a line cut by kill -9 is skipped)."""
    entries = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                entries.append(json.loads(line))
    return entries


def claim_ends(trials: list[Any], events: list[Any]) -> tuple[dict[int, dict[int, float]], int]:
    """Per trial, claim -> when it ended; and how many trials' claims the events do not account for.

    A claim ends with a requeue (``requeued``), a stale heartbeat (``lost``), or the trial's
    end. Claims are numbered in order, so the k-th requeue or lost event of a trial ends its
    claim k; the last claim ends when the trial did (a trial marked lost has a last ``lost``).
    """
    from metaml.store import TrialStatus

    ended: dict[int, list[float]] = defaultdict(list)
    for e in sorted(events, key=lambda e: e.id):
        if e.trial_number is not None and e.kind in ("requeued", "lost"):
            ended[e.trial_number].append(e.time)
    ends: dict[int, dict[int, float]] = {}
    unaccounted = 0
    for t in trials:
        times = ended[t.number][:-1] if t.status is TrialStatus.LOST else ended[t.number]
        unaccounted += len(times) != max(0, t.attempt - 1)
        ends[t.number] = {k + 1: at for k, at in enumerate(times)}
        ends[t.number][t.attempt] = t.ended_at if t.ended_at is not None else float("inf")
    return ends, unaccounted


def check_store(url: str, name: str, budget_fte: float, journal: list[dict[str, Any]],
                paused: tuple[list[dict[str, Any]], float] = ([], 0.0), faulted: set[int] | None = None) -> Check:
    """Read the study back (without writing) and count every way the faults could have broken it."""
    from metaml.store import SQLStore

    store = SQLStore(url, create=False)
    try:
        record = store.get_study(name)
        trials = store.trials(record.id)
        points = store.observations(record.id)
        events = store.events(record.id)
    finally:
        store.close()
    return check_records(trials, points, events, journal, budget_fte, paused, faulted)


def check_records(trials: list[Any], points: list[Any], events: list[Any], journal: list[dict[str, Any]],
                  budget_fte: float, paused: tuple[list[dict[str, Any]], float] = ([], 0.0),
                  faulted: set[int] | None = None) -> Check:
    """The checks of ``check_store`` on records already read; ``paused``: the claims paused, and for how long;
    ``faulted``: the pids the faults hit (without it, claims ended in a live worker's name are not counted)."""
    c = Check(trials=len(trials), statuses=dict(Counter(t.status.value for t in trials)))
    c.cost_fte = sum(t.cost_fte for t in trials)
    c.overshoot_fte = max(0.0, c.cost_fte - budget_fte)
    c.points = len(points)
    c.claims = sum(t.attempt for t in trials)
    _check_numbers(c, trials, events)
    _check_results(c, trials)
    ends, c.claims_unaccounted = claim_ends(trials, events)
    _check_curve(c, trials, points, ends, journal)
    _check_journal(c, ends, journal)
    _check_holders(c, trials, events, journal)
    if faulted is not None:
        _check_unfaulted(c, events, faulted)
    c.stale_claims = sum(1 for e in events if e.kind == "lost" and "no heartbeat" in e.message)
    held, pause_s = paused
    c.paused_claims_ended = sum(1 for p in held if p["at"] <= ends.get(p["trial"], {}).get(p["attempt"], 0.0)
                                <= p["at"] + pause_s + 1.0)
    return c


def _check_numbers(c: Check, trials: list[Any], events: list[Any]) -> None:
    from metaml.store import TrialStatus

    numbers = [t.number for t in trials]
    created = Counter(e.trial_number for e in events if e.kind in ("proposal", "enqueued"))
    c.missing = len(set(range(len(trials))) - set(numbers)) + len(set(created) - set(numbers))
    parents = Counter(t.continue_from for t in trials if t.continue_from is not None)
    c.duplicated = (len(numbers) - len(set(numbers)) + sum(n - 1 for n in created.values() if n > 1)
                    + sum(n - 1 for n in parents.values() if n > 1))
    c.unfinished = sum(1 for t in trials if t.status in (TrialStatus.PENDING, TrialStatus.RUNNING))
    for t in trials:
        if t.status in (TrialStatus.PENDING, TrialStatus.RUNNING):
            c.note(f"trial {t.number} is still {t.status.value}")


def _check_results(c: Check, trials: list[Any]) -> None:
    """A result must come from the trial's last claim, computed by the worker the store names."""
    from metaml.store import TrialStatus

    for t in trials:
        if t.status not in (TrialStatus.COMPLETED, TrialStatus.PRUNED):
            continue
        metrics = t.metrics or {}
        pid = (t.worker or "").rpartition(":")[2]
        if metrics.get("attempt") != t.attempt or str(int(metrics.get("pid", -1))) != pid:
            c.fenced_results += 1
            c.note(f"trial {t.number}: result of claim {metrics.get('attempt')} by pid {metrics.get('pid')}, "
                   f"but its last claim is {t.attempt} by {t.worker}")


def _check_curve(c: Check, trials: list[Any], points: list[Any], ends: dict[int, dict[int, float]],
                 journal: list[dict[str, Any]]) -> None:
    """No step twice; every write made while its claim held; every epoch on a curve paid for."""
    steps = Counter((p.trial_number, p.step) for p in points)
    c.duplicate_points = sum(n - 1 for n in steps.values() if n > 1)
    refused = {(e["trial"], e["attempt"], e["t0"]) for e in journal if e["op"] == "report" and e["ok"] is False}
    for p in points:
        for key, made in p.metrics.items():
            if not (key.startswith("a") and key[1:].isdigit()):
                continue
            claim = int(key[1:])
            end = ends.get(p.trial_number, {}).get(claim)
            if end is None or made > end:
                c.fenced_points += 1
                c.note(f"trial {p.trial_number} step {p.step:g}: written by claim {claim} at {made:.3f}, "
                       f"after that claim ended ({end})")
            c.refused_but_recorded += (p.trial_number, claim, made) in refused
    distinct = Counter(n for n, _ in steps)
    for t in trials:
        if t.cost_fte * FULL_FIDELITY < distinct[t.number] - 1e-6:
            c.unpaid_trials += 1
            c.note(f"trial {t.number}: {distinct[t.number]} steps on its curve, charged {t.cost_fte:.4f} FTE")


def _check_journal(c: Check, ends: dict[int, dict[int, float]], journal: list[dict[str, Any]]) -> None:
    stops = {(e["pid"], e["trial"], e["attempt"]) for e in journal if e.get("ok") is False}
    c.claim_lost_stops = len(stops)
    for e in journal:
        if e["op"] == "checkpoint" and e["ok"] is True and e["t0"] > ends.get(e["trial"], {}).get(e["attempt"], 0.0):
            c.fenced_checkpoints += 1
            c.note(f"trial {e['trial']} step {e['step']}: checkpoint by claim {e['attempt']} after it ended")
    returns = Counter(e["trial"] for e in journal if e["op"] == "return")
    c.ran_twice = sum(1 for n in returns.values() if n > 1)


def _check_holders(c: Check, trials: list[Any], events: list[Any], journal: list[dict[str, Any]]) -> None:
    """A claim ended because worker W died (or went silent) must have been W's: the journal names who held it."""
    holders: dict[tuple[int, int], set[int]] = defaultdict(set)
    for e in journal:
        holders[(e["trial"], e["attempt"])].add(e["pid"])
    claim: Counter[int] = Counter()
    for e in sorted(events, key=lambda e: e.id):
        if e.trial_number is None or e.kind not in ("requeued", "lost"):
            continue
        claim[e.trial_number] += 1
        named = e.data.get("worker") or _named_worker(e.message)
        held = holders.get((e.trial_number, claim[e.trial_number]))
        if named is None or not held or not named.rpartition(":")[2].isdigit():
            continue  # an interrupted run requeues itself, or its holder died before it wrote anything
        if int(named.rpartition(":")[2]) not in held:
            c.revoked_in_another_name += 1
            c.note(f"trial {e.trial_number}: claim {claim[e.trial_number]}, held by pid {sorted(held)}, "
                   f"ended as worker {named}'s: {e.message}")


def _check_unfaulted(c: Check, events: list[Any], faulted: set[int]) -> None:
    """A claim ended in the name of a worker of this machine that no fault hit: it was alive, and late.

    Not a fencing failure (that worker is refused at its next write), but a claim ended by
    supervision without an injected cause; with a short ``stale_after`` on busy cores it happens.
    """
    host = socket.gethostname()
    for e in events:
        if e.trial_number is None or e.kind not in ("requeued", "lost"):
            continue
        who, _, pid = (e.data.get("worker") or _named_worker(e.message) or "").rpartition(":")
        if who == host and pid.isdigit() and int(pid) not in faulted:
            c.ended_unfaulted += 1
            c.note(f"trial {e.trial_number}: claim ended in the name of worker {who}:{pid}, which no fault hit: "
                   f"{e.message}")


def _named_worker(message: str) -> str | None:
    """The worker a requeue or lost message names ('lost: its worker host:pid was killed ...')."""
    head, found, rest = message.partition("its worker ")
    return rest.split(" ", 1)[0] if found else None


# ------------------------------------------------------------------------- studies
def study_yaml(name: str, url: str, folder: Path, settings: ChaosSettings, index: int) -> str:
    """A fidelity study (Hyperband and ASHA in turn) with a short heartbeat and stale time."""
    optimizer = "hyperband" if index % 2 == 0 else "asha"
    return textwrap.dedent(
        f"""\
        name: {name}
        function: benchmarks.chaos:train
        seed: {settings.seed * 1000 + index}
        space:
          x: {{type: float, lower: 0.0, upper: 1.0}}
          y: {{type: float, lower: 0.0, upper: 1.0}}
          epochs: {{type: fidelity, lower: 1, upper: {FULL_FIDELITY}}}
        objectives: [loss]
        optimizer: {{name: {optimizer}, eta: 3}}
        budget: {{fte: {settings.budget_fte}}}
        store: "{url}"
        artifacts: "{folder / 'artifacts'}"
        execution:
          heartbeat: {settings.heartbeat}
          stale_after: {settings.stale_after}
          retries: {settings.retries}
        """
    )


@dataclass
class StudyResult:
    """One study: the faults, how it ended, and what the checks found."""

    backend: str
    name: str
    optimizer: str
    faults: Faults
    check: Check
    ended_by_itself: bool
    reruns: int
    finished: bool
    orphans: int
    claim_lost_lines: int  # "lost its claim" in the processes' output
    exits: list[dict[str, Any]]
    wall_s: float


def _wait_for_study(url: str, name: str, fleet: Fleet, limit_s: float = 120.0) -> tuple[Any, int]:
    """An open read-only store and the study's id, once the coordinator made it."""
    from metaml.errors import MetamlError
    from metaml.store import SQLStore

    deadline = time.time() + limit_s
    while time.time() < deadline:
        fleet.reap()
        if not fleet.procs:
            raise RuntimeError(f"the coordinator of {name} ended before making its study; see {fleet.folder}")
        with contextlib.suppress(MetamlError):
            store = SQLStore(url, create=False)
            try:
                return store, store.get_study(name).id
            except MetamlError:
                store.close()
        time.sleep(0.2)
    raise RuntimeError(f"study {name} did not appear in {limit_s:g} s; see {fleet.folder}")


def _rerun(fleet: Fleet) -> bool:
    """Run the study once more, without faults; whether it finished (exit 0)."""
    log = fleet.folder / "rerun.log"
    cmd = [sys.executable, "-m", "metaml", "run", str(fleet.yaml), "--workers", str(fleet.settings.coordinator_workers)]
    with open(log, "wb") as out:
        try:
            done = subprocess.run(cmd, cwd=fleet.folder, env=fleet.env, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=fleet.settings.rerun_timeout_s, start_new_session=True)
        except subprocess.TimeoutExpired:
            return False
    return done.returncode == 0


def run_study(backend: str, url: str, folder: Path, index: int, quota: Quota, rng: np.random.Generator,
              settings: ChaosSettings) -> StudyResult:
    """Run one study under faults, end it with a kill -9 of the whole job, rerun it once, and check it."""
    began = time.time()
    name = f"chaos-{backend}-{index}"
    folder.mkdir(parents=True)
    journal = folder / "journal"
    journal.mkdir()
    yaml = folder / f"{name}.yaml"
    yaml.write_text(study_yaml(name, url, folder, settings, index))
    env = {**os.environ, JOURNAL_ENV: str(journal), SLEEP_ENV: str(settings.epoch_s),
           # (a PYTHONPATH given stays first: a snapshot of metaml there is what is measured)
           "PYTHONPATH": os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p)}
    fleet = Fleet(yaml, folder, settings, env)
    fleet.start("coordinator")
    store, study_id = _wait_for_study(url, name, fleet)
    try:
        for _ in range(settings.workers):
            fleet.start("worker")
        limit = 60.0 + quota.total() * (settings.interval_s + settings.pause_s) * 3
        faults = inject(fleet, store, study_id, quota, rng, settings, limit)
    finally:
        store.close()
    ended_by_itself = not fleet.procs
    faults.final_kills = len(fleet.procs)
    fleet.kill_all()
    orphans = fleet.orphans()
    last = [e for e in fleet.exits if e["role"] == "coordinator"]
    needs_rerun = not (ended_by_itself and last and last[-1]["rc"] == 0)
    finished = _rerun(fleet) if needs_rerun else True
    lines = sum(p.read_text(errors="replace").count("lost its claim") for p in folder.glob("*.log"))
    check = check_store(url, name, settings.budget_fte, read_journal(journal), (faults.paused_trials, settings.pause_s),
                        fleet.faulted)
    optimizer = "hyperband" if index % 2 == 0 else "asha"
    return StudyResult(backend, name, optimizer, faults, check, ended_by_itself, int(needs_rerun), finished,
                       orphans, lines, fleet.exits, time.time() - began)


@contextlib.contextmanager
def study_urls(backend: str, folder: Path, admin_url: str | None) -> Iterator[Callable[[int], Any]]:
    """For a backend, a factory of fresh store URLs, one per study (a SQLite file or a new PostgreSQL database)."""
    if backend == "sqlite":
        @contextlib.contextmanager
        def sqlite(index: int) -> Iterator[str]:
            yield f"sqlite:///{folder / f'sqlite-{index}.db'}"

        yield sqlite
        return
    from metaml.testing import postgres

    cluster = None
    if admin_url is None:
        admin_url = os.environ.get("METAML_BENCH_POSTGRES_URL")
    if admin_url is None:
        why = postgres.why_unavailable()
        if why is not None:
            raise RuntimeError(f"no PostgreSQL: {why}; or set METAML_BENCH_POSTGRES_URL")
        cluster = postgres.start_cluster()
        admin_url = cluster.url
    try:
        yield lambda index: postgres.fresh_database(admin_url)
    finally:
        if cluster is not None:
            cluster.stop()


def run_backend(backend: str, settings: ChaosSettings, folder: Path, admin_url: str | None = None,
                progress: Callable[[str], None] | None = None) -> list[StudyResult]:
    """Every study of one backend, until its faults are spent (a study that ends early passes its share on)."""
    folder = folder.resolve()  # the processes run in their study's folder
    rng = np.random.default_rng([settings.seed, ["sqlite", "postgresql"].index(backend)])
    quota = Quota(settings.kills, settings.coordinator_kills, settings.pauses)
    results: list[StudyResult] = []
    with study_urls(backend, folder, admin_url) as urls:
        index = 0
        while quota.total() > 0 and index < 3 * settings.studies:
            share = quota.share(max(1, settings.studies - index))
            with urls(index) as url:
                result = run_study(backend, url, folder / f"{backend}-{index}", index, share, rng, settings)
            spent = result.faults
            quota = Quota(quota.kills - spent.kills, quota.coordinator_kills - spent.coordinator_kills,
                          quota.pauses - spent.pauses)
            results.append(result)
            if progress is not None:
                progress(_one_line(result))
            index += 1
    return results


def _one_line(r: StudyResult) -> str:
    f, c = r.faults, r.check
    return (f"{r.name} ({r.optimizer}): {c.trials} trials, kills {f.kills} ({f.busy_kills} busy) + coordinator "
            f"{f.coordinator_kills}, pauses {f.pauses}, stale claims {c.stale_claims}, ClaimLost stops "
            f"{c.claim_lost_stops}; reruns {r.reruns}, finished {r.finished}; {r.wall_s:.0f} s")


# ------------------------------------------------------------------------- summary
#: The figures that must be zero, as the summary names them.
ZEROS = ("trials_missing", "trials_duplicated", "trials_unfinished", "fenced_results_accepted",
         "fenced_points_accepted", "fenced_checkpoints", "refused_but_recorded", "duplicate_points",
         "unpaid_trials", "unfinished_studies", "orphans", "claims_unaccounted", "revoked_in_another_name")


def summarize(backend: str, results: list[StudyResult], budget_fte: float) -> dict[str, Any]:
    """One backend's totals; every name in ``ZEROS`` must be 0, ``overshoot_fte`` at most 1e-9."""
    f = [r.faults for r in results]
    c = [r.check for r in results]
    statuses: Counter[str] = Counter()
    for check in c:
        statuses.update(check.statuses)
    return {
        "backend": backend,
        "studies": len(results),
        "trials": sum(x.trials for x in c),
        "statuses": dict(statuses),
        "curve_points": sum(x.points for x in c),
        "claims": sum(x.claims for x in c),
        "worker_kills": sum(x.kills for x in f),
        "busy_worker_kills": sum(x.busy_kills for x in f),
        "coordinator_kills": sum(x.coordinator_kills for x in f),
        "pauses": sum(x.pauses for x in f),
        "final_kills": sum(x.final_kills for x in f),
        "stale_claims": sum(x.stale_claims for x in c),
        "paused_claims_ended": sum(x.paused_claims_ended for x in c),
        "claim_lost_stops": sum(x.claim_lost_stops for x in c),
        "claim_lost_lines": sum(r.claim_lost_lines for r in results),
        "ran_twice": sum(x.ran_twice for x in c),
        "trials_missing": sum(x.missing for x in c),
        "trials_duplicated": sum(x.duplicated for x in c),
        "trials_unfinished": sum(x.unfinished for x in c),
        "fenced_results_accepted": sum(x.fenced_results for x in c),
        "fenced_points_accepted": sum(x.fenced_points for x in c),
        "fenced_checkpoints": sum(x.fenced_checkpoints for x in c),
        "refused_but_recorded": sum(x.refused_but_recorded for x in c),
        "claims_unaccounted": sum(x.claims_unaccounted for x in c),
        "revoked_in_another_name": sum(x.revoked_in_another_name for x in c),
        "ended_unfaulted": sum(x.ended_unfaulted for x in c),
        "duplicate_points": sum(x.duplicate_points for x in c),
        "overshoot_fte": max((x.overshoot_fte for x in c), default=0.0),
        "budget_fte": budget_fte,
        "cost_fte": sum(x.cost_fte for x in c),
        "unpaid_trials": sum(x.unpaid_trials for x in c),
        "reruns": sum(r.reruns for r in results),
        "ended_by_itself": sum(r.ended_by_itself for r in results),
        "unfinished_studies": sum(not r.finished for r in results),
        "orphans": sum(r.orphans for r in results),
        "wall_s": sum(r.wall_s for r in results),
        "examples": [e for x in c for e in x.examples][:20],
    }


def violations(summary: dict[str, Any]) -> list[str]:
    """The targets a backend's summary misses (empty when all hold)."""
    bad = [f"{k} = {summary[k]}" for k in ZEROS if summary[k]]
    if summary["overshoot_fte"] > EPSILON:
        bad.append(f"overshoot_fte = {summary['overshoot_fte']:.3g}")
    return bad


def table(summaries: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    rows = [
        ("studies (reruns; ended by themselves)", lambda s: f"{s['studies']} ({s['reruns']}; {s['ended_by_itself']})"),
        ("trials (completed / pruned / failed / lost at the retry limit)", lambda s: "{} ({} / {} / {} / {})".format(
            s["trials"], *(s["statuses"].get(k, 0) for k in ("completed", "pruned", "failed", "lost")))),
        ("curve points; claims", lambda s: f"{s['curve_points']}; {s['claims']}"),
        ("kill -9 of workers (holding a trial)", lambda s: f"{s['worker_kills']} ({s['busy_worker_kills']})"),
        ("kill -9 of the coordinator", lambda s: str(s["coordinator_kills"])),
        ("pauses past stale_after (claims taken meanwhile)", lambda s: f"{s['pauses']} ({s['paused_claims_ended']})"),
        ("kill -9 of the whole job at a study's end", lambda s: str(s["final_kills"])),
        ("claims ended by a stale heartbeat", lambda s: str(s["stale_claims"])),
        ("runs stopped by ClaimLostError (log lines)", lambda s: f"{s['claim_lost_stops']} ({s['claim_lost_lines']})"),
        ("trials whose function returned twice", lambda s: str(s["ran_twice"])),
        ("trials missing / duplicated / unfinished", lambda s: f"{s['trials_missing']} / {s['trials_duplicated']} / "
                                                            f"{s['trials_unfinished']}"),
        ("fenced results / points / checkpoints accepted", lambda s: f"{s['fenced_results_accepted']} / "
                                                                     f"{s['fenced_points_accepted']} / {s['fenced_checkpoints']}"),
        ("claims without a recorded end", lambda s: str(s["claims_unaccounted"])),
        ("claims ended in a dead worker's name, held by another", lambda s: str(s["revoked_in_another_name"])),
        ("claims ended in the name of a worker no fault hit", lambda s: str(s["ended_unfaulted"])),
        ("duplicate curve points", lambda s: str(s["duplicate_points"])),
        ("budget overshoot (FTE, worst study)", lambda s: f"{s['overshoot_fte']:.2g}"),
        ("trials with unpaid epochs", lambda s: str(s["unpaid_trials"])),
        ("studies not finished by one rerun", lambda s: str(s["unfinished_studies"])),
        ("coordinator's processes left after its kill", lambda s: str(s["orphans"])),
        ("wall s", lambda s: f"{s['wall_s']:.0f}"),
    ]
    t = Table(title="Faults: kill -9 and pauses against real studies")
    t.add_column("")
    for s in summaries:
        t.add_column(s["backend"], justify="right")
    for label, cell in rows:
        t.add_row(label, *(cell(s) for s in summaries))
    return t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, help="kill -9 of workers per backend (default 100; --quick 4)")
    parser.add_argument("--coordinator-kills", type=int, help="kill -9 of `metaml run` per backend (default 10)")
    parser.add_argument("--pauses", type=int, help="SIGSTOP/SIGCONT past stale_after per backend (default 20)")
    parser.add_argument("--studies", type=int, help="studies per backend the faults are shared among (default 4)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a bounded version: one small study per backend")
    parser.add_argument("--keep", type=Path, help="keep the stores, logs and journals in this folder")
    parser.add_argument("--out", type=Path, help="write the JSON summary here")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else ChaosSettings()
    given = {k: getattr(args, k) for k in ("kills", "coordinator_kills", "pauses", "studies") if getattr(args, k) is not None}
    settings = replace(base, seed=args.seed, **given)
    from rich.console import Console

    console = Console()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - {"sqlite", "postgresql"})
    if unknown:
        parser.error(f"unknown backends {unknown}: choose sqlite and/or postgresql")
    summaries = []
    with contextlib.ExitStack() as stack:
        folder = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="metaml-chaos-")))
        for backend in backends:
            results = run_backend(backend, settings, folder, progress=lambda line: console.print(line, markup=False))
            summaries.append(summarize(backend, results, settings.budget_fte))
    console.print(table(summaries))
    failed = {s["backend"]: violations(s) for s in summaries if violations(s)}
    for backend, bad in failed.items():
        console.print(f"{backend}: targets missed: {', '.join(bad)}", style="red", markup=False)
    if args.out is not None:
        command = " ".join(["python -m benchmarks.chaos", *(sys.argv[1:] if argv is None else argv)])
        args.out.write_text(json.dumps({"settings": asdict(settings), "command": command,
                                        "backends": summaries}, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
