"""``python -m benchmarks.dashboard_load``: how long the dashboard's page and its JSON take for a study of N trials.

A two-objective study of ``--trials`` completed trials (random search, each with a 4-point
learning curve) is written into a fresh SQLite store; the dashboard is served on a free
loopback port and its page (``/``) and its state (``/api/state``, what the page polls every
2 s) are fetched ``--repeats`` times each; the median wall time of each is printed. The
first fetch of a process reads the whole study, the next ones only what changed.

    python -m benchmarks.dashboard_load --trials 1000
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import uvicorn

from metaml import Categorical, Float, Int, Study
from metaml.dashboard import make_app


def _study(folder: Path, trials: int) -> Study:
    study = Study.create("load", {"lr": Float(1e-4, 1e-1, log=True), "depth": Int(1, 8),
                                  "opt": Categorical(["adam", "sgd"])}, ["loss", "size"],
                         store=folder / "s.db", seed=0, artifacts=folder / "a")
    for _ in range(trials):
        trial = study.ask()
        assert trial is not None
        for step in range(1, 5):
            trial.report(step, loss=trial.config["lr"] / step, size=float(trial.config["depth"]))
        study.tell(trial, {"loss": trial.config["lr"] / 4, "size": float(trial.config["depth"])})
    return study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        study = _study(Path(tmp), args.trials)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(make_app(Study.load("load", study.store.url), "t"), host="127.0.0.1",
                                               port=port, log_level="error"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        for path in ("/?token=t", "/api/state?token=t"):
            times, size = [], 0
            for _ in range(args.repeats):
                started = time.perf_counter()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as r:
                    size = len(r.read())
                times.append(time.perf_counter() - started)
            print(f"{path.split('?')[0]:<12} {args.trials} trials: median {statistics.median(times):.3f} s, "
                  f"first {times[0]:.3f} s, {size / 1e3:.0f} kB")
        server.should_exit = True
        thread.join(10)


if __name__ == "__main__":
    main()
