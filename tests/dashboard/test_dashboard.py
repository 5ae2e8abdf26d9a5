"""The live dashboard served for real: the token on every request, no cross-site posts, escaped user text, forms that steer."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from metaml import Categorical, Float, Study

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("multipart")

from metaml.dashboard import make_app  # noqa: E402 - after the skips

EVIL = "<script>alert('x')</script>"
TOKEN = "t0ken-for-tests"


def _train(config: dict[str, Any]) -> dict[str, float]:
    return {"loss": config["lr"] + (0.5 if config["opt"] == EVIL else 0.0), "size": 1.0 / config["lr"]}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Study, str]]:
    study = Study.create("a<script>b", {"opt": Categorical(["adam", EVIL]), "lr": Float(1e-3, 1e-1, log=True)},
                         ["loss", "size"], store=tmp_path / "s.db", seed=1, artifacts=tmp_path / "a")
    study.optimize(_train, 6)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(Study.load(study.name, tmp_path / "s.db"), TOKEN),
                                           host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield study, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=20) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _post(base: str, fields: dict[str, str], origin: str | None, cookie: bool = True) -> tuple[int, str]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if origin is not None:
        headers["Origin"] = origin
    if cookie:
        headers["Cookie"] = f"metaml_dashboard_token={TOKEN}"
    request = urllib.request.Request(base + "/intervene", data=urllib.parse.urlencode(fields).encode(), headers=headers)
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=20) as r:
            return r.status, r.headers.get("location", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("location", "") or exc.read().decode()


def test_every_request_needs_the_token(served: tuple[Study, str]) -> None:
    _, base = served
    for path in ("/", "/api/state", "/assets/plotly.js", "/api/trial/0", "/?token=wrong"):
        assert _get(base + path)[0] == 403, path
    assert _post(base, {"action": "pin", "target": "opt", "value": "adam"}, base, cookie=False)[0] == 403
    status, state = _get(f"{base}/api/state?token={TOKEN}")
    assert status == 200 and len(json.loads(state)["front"]) >= 1
    assert _get(f"{base}/assets/plotly.js?token={TOKEN}")[0] == 200  # served here: no internet needed
    assert _get(base + "/api/importance")[0] == 403
    status, found = _get(f"{base}/api/importance?token={TOKEN}")
    assert status == 200 and set(json.loads(found)) == {"loss", "size"}


def test_user_text_is_escaped_in_the_page(served: tuple[Study, str]) -> None:
    study, base = served
    study.note(f"look {EVIL}", author=EVIL)
    status, html = _get(f"{base}/?token={TOKEN}")
    assert status == 200
    assert EVIL not in html and "<script>b" not in html
    assert "&lt;script&gt;alert(" in html


def test_a_pin_through_the_form_steers_the_next_trials_and_cross_site_posts_are_refused(served: tuple[Study, str]) -> None:
    study, base = served
    form = {"token": TOKEN, "action": "pin", "target": "opt", "value": "adam", "author": "ann", "reason": "web"}
    assert _post(base, form, "http://evil.example")[0] == 403
    assert _post(base, form, None)[0] == 403  # neither Origin nor Referer: not known to be this page
    assert _post(base, {**form, "token": "wrong"}, base)[0] == 403
    assert study.events(["intervention"]) == []
    bad_status, where = _post(base, {**form, "value": "rmsprop"}, base)
    assert bad_status == 303 and "error=" in where and study.events(["intervention"]) == []
    status, where = _post(base, form, base)
    assert status == 303 and "message=" in where
    [event] = study.events(["intervention"])
    assert (event.data["action"], event.data["value"], event.data["author"]) == ("pin", "adam", "ann")
    study.optimize(_train, 12)
    assert all(t.config["opt"] == "adam" for t in study.trials()[6:])
    state = json.loads(_get(f"{base}/api/state?token={TOKEN}")[1])
    assert [i["action"] for i in state["interventions"]] == ["pin"] and state["trials"]["completed"] == 12
