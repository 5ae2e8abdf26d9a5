"""Signals a scheduler sends, handled like Ctrl-C; and workers that leave when their parent dies.

SLURM, Kubernetes and systemd stop a job with SIGTERM. It is turned into ``Terminated``, a
``KeyboardInterrupt``, so that every path that returns an interrupted trial to the queue
handles it too; ``metaml run`` then exits with 143 (128 + SIGTERM) instead of 130.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger(__name__)

#: The exit code of a run stopped by SIGTERM, as a shell reports a process it killed.
EXIT_TERMINATED = 128 + signal.SIGTERM
#: The exit code of a run stopped by Ctrl-C.
EXIT_INTERRUPTED = 128 + signal.SIGINT
#: Seconds between two looks of a worker at its parent process.
PARENT_WATCH_S = 0.5
#: Seconds after which an interrupt that Python dropped (see ``_raise_again_when_swallowed``) is sent again.
RESEND_AFTER_S = 0.05
#: Seconds a worker whose parent died has to return its trial to the queue before it exits anyway.
ORPHAN_GRACE_S = 20.0


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop like Ctrl-C (the running trial goes back to the queue)."""


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """143 for SIGTERM, 130 for Ctrl-C."""
    return EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    # A second SIGTERM must not interrupt the clean-up the first one started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated(f"signal {signal.Signals(signum).name}")


def _raise_again_when_swallowed(unraisable: sys.UnraisableHookArgs) -> None:
    """Send an interrupt again that landed where Python can only print it and go on.

    A signal's exception is raised in whatever the main thread runs at that moment. Inside a
    weakref callback or a ``__del__`` (the garbage collector runs them at any bytecode), Python
    prints "Exception ignored", drops the exception and goes on: a worker would keep training
    after SIGTERM. The signal is sent again a moment later, from another thread, so that it is
    raised once this hook and the callback have returned (sent from here, it would be raised in
    the hook and dropped again).
    """
    exc_type = unraisable.exc_type
    if issubclass(exc_type, Terminated):
        signum = signal.SIGTERM
        signal.signal(signum, _raise_terminated)
    elif issubclass(exc_type, KeyboardInterrupt) and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signum = signal.SIGINT
    else:
        _previous_unraisablehook(unraisable)
        return
    log.debug("%s arrived inside a clean-up callback; sending it again", signum.name)
    resend = threading.Timer(RESEND_AFTER_S, os.kill, (os.getpid(), signum))
    resend.daemon = True
    try:
        resend.start()
    except RuntimeError:  # the interpreter is shutting down: nothing is left to stop
        pass


_previous_unraisablehook = sys.unraisablehook


def _catch_swallowed_interrupts() -> None:
    global _previous_unraisablehook
    if sys.unraisablehook is not _raise_again_when_swallowed:
        _previous_unraisablehook = sys.unraisablehook
        sys.unraisablehook = _raise_again_when_swallowed


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated`` in the main thread (a no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    _catch_swallowed_interrupts()
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def install_sigterm_handler() -> None:
    """For the whole life of a worker process: SIGTERM raises ``Terminated``."""
    signal.signal(signal.SIGTERM, _raise_terminated)
    _catch_swallowed_interrupts()


class ParentWatch:
    """A daemon thread that stops this worker when the process that started it is gone.

    Killed with ``kill -9``, a parent can tell nobody; its workers would go on claiming
    trials unsupervised. The watch sends this process SIGTERM (its trial goes back to the
    queue, charged for what it trained) and, if it is stuck in native code, exits after a
    grace period.
    """

    def __init__(self, parent_pid: int, interval: float = PARENT_WATCH_S, grace: float = ORPHAN_GRACE_S) -> None:
        self.parent_pid, self.interval, self.grace = parent_pid, interval, grace
        self._thread = threading.Thread(target=self._watch, name="metaml-parent-watch", daemon=True)

    def start(self) -> ParentWatch:
        self._thread.start()
        return self

    def _watch(self) -> None:
        while parent_alive(self.parent_pid):
            time.sleep(self.interval)
        log.warning("the process that started this worker (pid %s) is gone: stopping", self.parent_pid)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(self.grace)
        os._exit(EXIT_TERMINATED)


def parent_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (and is not a zombie awaiting its own parent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True
