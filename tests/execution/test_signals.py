"""SIGTERM and Ctrl-C stop a process even when they land inside a callback Python cannot raise from."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# The garbage collector runs weakref callbacks (and ``__del__``) at any bytecode. A signal whose
# handler runs inside one raises there; Python prints "Exception ignored" and drops the exception.
SCRIPT = textwrap.dedent(
    """\
    import os, signal, time, weakref
    from metaml.execution.signals import install_sigterm_handler

    install_sigterm_handler()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal; a test runner may ignore SIGINT
    SIGNUM = signal.{signum}

    class Box:
        pass

    def collected(_ref):
        os.kill(os.getpid(), SIGNUM)  # the handler runs here, inside the callback
        sum(range(1000))

    box = Box()
    ref = weakref.ref(box, collected)
    try:
        del box
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.01)
        print("still running")
    except KeyboardInterrupt as stop:
        print("stopped by", type(stop).__name__)
    """
)


@pytest.mark.parametrize(("signum", "raised"), [("SIGTERM", "Terminated"), ("SIGINT", "KeyboardInterrupt")])
def test_an_interrupt_dropped_inside_a_weakref_callback_is_raised_again_outside(signum: str, raised: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(signum=signum)], capture_output=True, text=True, timeout=30
    )
    assert result.stdout.strip() == f"stopped by {raised}", result.stderr
    assert "Exception ignored" not in result.stderr


def test_other_exceptions_in_callbacks_are_still_reported_as_before() -> None:
    script = textwrap.dedent(
        """\
        import weakref
        from metaml.execution.signals import install_sigterm_handler

        install_sigterm_handler()

        class Box:
            pass

        def collected(_ref):
            raise ValueError("a bug in a callback")

        box = Box()
        ref = weakref.ref(box, collected)
        del box
        print("went on")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == "went on"
    assert "Exception ignored" in result.stderr and "a bug in a callback" in result.stderr
