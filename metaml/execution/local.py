"""Local worker processes: N trials at once, each worker a separate process the parent can kill.

A trial that segfaults, leaks or hangs takes down its worker process, never the study: the
parent notices the dead process, the trial goes back to the queue (or fails, past its retry
limit or its timeout) and a fresh worker takes its place.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing as mp
import os
import signal
import socket
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import ClassVar

from metaml.budget import Budget
from metaml.core.records import TrialRecord, TrialStatus
from metaml.errors import MetamlError
from metaml.execution.base import LIMITS, Executor, finished_numbers, finished_since
from metaml.execution.functions import FunctionRef, TrialFunction
from metaml.execution.handle import StudyHandle
from metaml.execution.settings import ExecutionSettings
from metaml.execution.signals import Terminated

log = logging.getLogger(__name__)

#: Seconds between two looks of the parent at its workers.
WATCH_S = 0.2


def study_opener(study: StudyHandle) -> Callable[[], StudyHandle]:
    """How a worker process opens ``study`` again: its own ``load`` by name and store URL (picklable)."""
    return functools.partial(type(study).load, study.name, study.store.url)


def worker_main(
    open_study: Callable[[], StudyHandle],
    fn_ref: FunctionRef,
    budget: Budget,
    settings: ExecutionSettings,
    started: float,
    parent_pid: int | None = None,
    cuda_visible: str | None = None,
) -> None:
    """The body of one worker process (also used by the Ray executor's tasks).

    ``open_study`` (``study_opener``) opens the study in this process. With ``parent_pid`` the worker stops (returning its trial to the queue) as soon as that
    process is gone, so that a killed ``metaml run`` leaves no unsupervised workers.
    ``cuda_visible`` becomes this process's ``CUDA_VISIBLE_DEVICES`` before the trial function
    (and so torch's CUDA) is loaded.
    """
    if cuda_visible is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = cuda_visible
    from metaml.execution.signals import ParentWatch, install_sigterm_handler
    from metaml.execution.worker import work

    if parent_pid is not None:
        install_sigterm_handler()
        ParentWatch(parent_pid).start()
    if settings.memory_mb is not None:
        _limit_memory(settings.memory_mb)
    study = open_study()
    try:
        work(study, fn_ref.load(), budget, settings, started=started)
    except KeyboardInterrupt:
        pass  # the running trial went back to the queue in run_trial
    finally:
        study.store.close()


def _gpu_slots(settings: ExecutionSettings) -> list[str] | None:
    """Each worker's CUDA_VISIBLE_DEVICES (None without ``gpus_per_trial``); checked before any worker starts."""
    if settings.gpus_per_trial is None:
        return None
    from metaml.execution.gpus import discover_devices, gpu_slots, usable_devices

    devices = usable_devices(settings.gpu_devices, discover_devices())
    return gpu_slots(float(settings.gpus_per_trial), settings.workers, devices)


def _limit_memory(memory_mb: float) -> None:
    import resource

    limit = int(memory_mb * 2**20)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def run_local(
    study: StudyHandle,
    fn_ref: FunctionRef,
    budget: Budget,
    settings: ExecutionSettings,
    *,
    on_trial: Callable[[TrialRecord], None] | None = None,
) -> list[TrialRecord]:
    """Run the study with ``settings.workers`` spawned worker processes until its budget is spent.

    Returns the trials that finished meanwhile (``finished_since``), as every executor does.
    """
    slots = _gpu_slots(settings)  # refused before the store is touched
    before = finished_numbers(study)
    study.recover_lost(settings.stale_after, settings.retries, settings.timeout)
    # Each worker is forked from a clean server process that has metaml imported already: as
    # isolated from this process as a spawned one (a crash takes down that worker only), but
    # it starts in a fraction of the time. The function still travels by reference.
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["metaml.study", "metaml.execution.worker", "metaml.execution.local"])
    started = time.time()
    procs: dict[int, BaseProcess] = {}
    slot_of: dict[int, int] = {}  # worker pid -> its index in slots
    host = socket.gethostname()
    respawns_left = 10 * settings.workers

    def spawn() -> None:
        # a replacement worker takes the GPU share its dead predecessor left
        slot = min(set(range(settings.workers)) - set(slot_of.values()))
        visible = slots[slot] if slots is not None else None
        p = ctx.Process(
            target=worker_main,
            args=(study_opener(study), fn_ref, budget, settings, started, os.getpid(), visible),
            name=f"metaml-worker-{slot}",
        )
        p.start()
        assert p.pid is not None
        procs[p.pid] = p
        slot_of[p.pid] = slot

    seen = {t.number for t in study.trials() if t.status.finished}
    idle_deaths = 0  # workers that died holding no trial since the last finished one
    last_sweep = 0.0
    for _ in range(settings.workers):
        spawn()
    try:
        while procs:
            time.sleep(WATCH_S)
            trials = study.trials()
            for t in trials:
                if t.status.finished and t.number not in seen:
                    seen.add(t.number)
                    idle_deaths = 0
                    if on_trial is not None:
                        on_trial(t)
            if settings.timeout is not None:
                _kill_timed_out(study, trials, procs, host, settings.timeout)
                if time.time() - last_sweep >= settings.heartbeat:
                    # trials of other processes (another machine, a dead parent) past their timeout
                    study.recover_lost(settings.stale_after, settings.retries, settings.timeout)
                    last_sweep = time.time()
            dead = [pid for pid, p in procs.items() if not p.is_alive()]
            running = study.trials([TrialStatus.RUNNING]) if dead else []
            for pid in dead:
                p = procs.pop(pid)
                slot_of.pop(pid, None)
                p.join()
                worker = f"{host}:{pid}"
                held = [t.number for t in running if t.worker == worker]
                if p.exitcode == 0 and not held:
                    continue  # its loop ended: the budget is spent or nothing is left
                how = describe_exit(p.exitcode)
                study.log_event("worker_died", f"worker process {worker} {how}", data={"exit_code": p.exitcode, "trials": held}
                )
                if held:
                    # The trial killed its worker (a segfault, os._exit, a leak): the retry limit
                    # bounds how often, so the worker is always replaced.
                    study.worker_died(worker, how, settings.retries)
                    spawn()
                    continue
                idle_deaths += 1
                if idle_deaths > settings.workers:
                    _stop_all(procs)
                    raise MetamlError(
                        f"worker processes keep dying before they run a trial (last: {how}); "
                        "their error is printed above — often the training function cannot be imported"
                    )
                if respawns_left > 0 and _work_left(study, budget, started):
                    respawns_left -= 1
                    spawn()
    except KeyboardInterrupt as interrupt:
        # Ctrl-C reached the workers too (they share the terminal's process group); SIGTERM
        # came to this process only, so it is passed on. Each returns its trial to the queue.
        if isinstance(interrupt, Terminated):
            for p in procs.values():
                if p.pid is not None and p.is_alive():
                    os.kill(p.pid, signal.SIGTERM)
        _stop_all(procs, grace=15)
        study.recover_lost(settings.stale_after, settings.retries)
        raise
    return finished_since(study, before)


class LocalExecutor(Executor):
    """``run_local`` behind the executor contract: it enforces both limits, in its worker processes."""

    name: ClassVar[str] = "local"
    enforces: ClassVar[frozenset[str]] = frozenset(LIMITS)

    def launch(
        self,
        study: StudyHandle,
        fn: TrialFunction | FunctionRef,
        budget: Budget,
        settings: ExecutionSettings,
        on_trial: Callable[[TrialRecord], None] | None,
    ) -> list[TrialRecord]:
        ref = fn if isinstance(fn, FunctionRef) else FunctionRef.of(fn)
        return run_local(study, ref, budget, settings, on_trial=on_trial)


def describe_exit(exitcode: int | None) -> str:
    """How a process ended, in words: 'was killed by signal SIGSEGV (11)' or 'exited with code 3'."""
    if exitcode is None:
        return "ended without an exit code"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"was killed by signal {name} ({-exitcode})"
    return f"exited with code {exitcode}"


def _stop_all(procs: dict[int, BaseProcess], grace: float = 0.0) -> None:
    for p in procs.values():
        p.join(timeout=grace)
        if p.is_alive():
            p.kill()
            p.join()
    procs.clear()


def _kill_timed_out(study: StudyHandle, trials: list[TrialRecord], procs: dict[int, BaseProcess], host: str, timeout: float) -> None:
    now = time.time()
    for t in trials:
        if t.status is not TrialStatus.RUNNING or t.started_at is None or now - t.started_at <= timeout:
            continue
        who, _, pid_text = (t.worker or "").rpartition(":")
        if who != host or not pid_text.isdigit() or int(pid_text) not in procs:
            continue
        p = procs[int(pid_text)]
        p.kill()
        p.join()
        message = f"timed out: ran for more than {timeout:g} s, so its worker process was killed"
        study.store.finish(study.id, t.number, TrialStatus.FAILED, error=message, fte_per_step=study.fte_per_step,
                           attempt=t.attempt)
        log.warning("trial %s %s", t.number, message)
        # the dead process is replaced by the parent's loop (exit code is non-zero)


def _work_left(study: StudyHandle, budget: Budget, started: float) -> bool:
    from metaml.spending import budget_left

    if budget.seconds is not None and time.time() - started >= budget.seconds:
        return False
    trials = study.trials()
    return any(t.status is TrialStatus.PENDING for t in trials) or budget_left(trials, budget, study.fte_per_step)
