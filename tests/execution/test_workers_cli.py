"""Independent `metaml worker` processes beside `metaml run`, sharing one store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from metaml import Study, TrialStatus
from metaml.store import SQLStore
from tests.e2e.conftest import TINY_MODULE, popen_cli, run_cli, study_yaml


def _wait_for_study(url: str, name: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            store = SQLStore(url)
            try:
                if name in store.list_studies():
                    return
            finally:
                store.close()
        except Exception:
            pass
        time.sleep(0.1)
    raise AssertionError(f"study {name!r} did not appear in {url}")


def test_two_workers_and_the_main_process_share_one_study(store_url: str, tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text(TINY_MODULE)
    (tmp_path / "study.yaml").write_text(study_yaml(trials=16))
    env = {"TINY_SLEEP": "1.0"}  # alone, the main process would need 16 s: time for the workers to join
    main = popen_cli(["run", "study.yaml", "--store", store_url], tmp_path, env)
    _wait_for_study(store_url, "tiny")
    workers = [popen_cli(["worker", "--store", store_url, "--study", "tiny"], tmp_path, env) for _ in range(2)]
    for proc in [main, *workers]:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
    study = Study.load("tiny", store_url)
    trials = study.trials()
    assert [t.number for t in trials] == list(range(16))
    assert all(t.status is TrialStatus.COMPLETED for t in trials)
    assert len({t.worker for t in trials}) >= 2


def test_a_worker_without_a_study_says_which_exist(tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text(TINY_MODULE)
    (tmp_path / "study.yaml").write_text(study_yaml(trials=1))
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert run_cli(["run", "study.yaml", "--store", url], tmp_path).returncode == 0
    result = run_cli(["worker", "--store", url, "--study", "other"], tmp_path)
    assert result.returncode == 1 and "no study named 'other'" in result.stderr and "tiny" in result.stderr


def test_an_unreachable_database_gives_one_clear_line_fast(tmp_path: Path) -> None:
    started = time.time()
    result = run_cli(["worker", "--store", "postgresql+psycopg://u:p@127.0.0.1:1/x", "--study", "s"], tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "127.0.0.1" in result.stderr and "***" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3
    assert time.time() - started < 30


def test_a_worker_refuses_a_store_of_another_schema_version(tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text(TINY_MODULE)
    (tmp_path / "study.yaml").write_text(study_yaml(trials=1))
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert run_cli(["run", "study.yaml", "--store", url], tmp_path).returncode == 0
    import sqlite3

    with sqlite3.connect(tmp_path / "s.db") as conn:
        conn.execute("update metaml_meta set value = '999' where key = 'schema_version'")
    result = run_cli(["worker", "--store", url, "--study", "tiny"], tmp_path)
    assert result.returncode == 1 and "schema version 999" in result.stderr


@pytest.mark.slow  # over 10 s: in `make slow`
def test_ray_executes_a_study_on_a_local_instance(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'metaml[ray]'")
    (tmp_path / "tiny.py").write_text(TINY_MODULE)
    (tmp_path / "study.yaml").write_text(study_yaml(trials=6, extra="execution: {executor: ray, workers: 2, cpus: 1}\n"))
    result = run_cli(["run", "study.yaml"], tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    study = Study.load("tiny", tmp_path / "runs" / "tiny" / "study.db")
    assert [t.number for t in study.trials()] == list(range(6))
    assert all(t.status is TrialStatus.COMPLETED for t in study.trials())
