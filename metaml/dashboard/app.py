"""The dashboard's web app (Starlette): one page, its JSON, its assets, and the intervention forms.

Security, since the page can change a study: every request must carry the access token
(``?token=`` on the first visit, then an HttpOnly, SameSite=Strict cookie), compared in
constant time; a form post must come from the page itself (its ``Origin`` or ``Referer`` names
this host, the browser does not call it cross-site, and the form carries the token); every user
string reaches the page through Jinja2's autoescaping or the DOM's ``textContent``, never as
markup. Assets (Plotly) are served by the app itself, so no internet is needed.
"""

from __future__ import annotations

import hmac
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from metaml.core.records import TrialStatus
from metaml.dashboard.state import dashboard_state
from metaml.errors import MetamlError
from metaml.interventions import default_author
from metaml.report.importance import importance
from metaml.study import Study

COOKIE = "metaml_dashboard_token"
TEMPLATES = Path(__file__).parent / "templates"
#: The form's actions and the Study method each calls.
ACTIONS = ("pin", "unpin", "prior", "narrow", "limit", "note", "enqueue")


def make_app(study: Study, token: str) -> Starlette:
    """The dashboard of ``study``, answering only requests that carry ``token``."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    plotly_js: list[bytes] = []

    def allowed(request: Request) -> bool:
        given = request.query_params.get("token") or request.cookies.get(COOKIE) or ""
        return hmac.compare_digest(given.encode(), token.encode())

    def refuse() -> Response:
        return PlainTextResponse("forbidden: open the address with the token `metaml dashboard` printed", 403)

    async def page(request: Request) -> Response:
        if not allowed(request):
            return refuse()
        html = env.get_template("dashboard.html.j2").render(s=dashboard_state(study), token=token,
                                                          message=request.query_params.get("message", ""),
                                                          error=request.query_params.get("error", ""),
                                                          actions=ACTIONS)
        response = HTMLResponse(html, headers=_headers())
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    async def state(request: Request) -> Response:
        if not allowed(request):
            return refuse()
        return JSONResponse(json.loads(json.dumps(dashboard_state(study), default=str)), headers=_headers())

    async def trial(request: Request) -> Response:
        if not allowed(request):
            return refuse()
        number = int(request.path_params["number"])
        view = study.view()
        t = view.trial(number)
        if t is None:
            return PlainTextResponse(f"study {study.name!r} has no trial {number}", 404)
        data = {"study": study.name, "trial": t.number, "status": t.status.value, "config": t.config,
                "metrics": t.metrics, "fidelity": t.fidelity, "cost_fte": t.cost_fte,
                "curve": [[o.step, o.metrics] for o in view.curve(number)]}
        return JSONResponse(data, headers={**_headers(),
                                           "Content-Disposition": f'attachment; filename="trial-{number}.json"'})

    cached: dict[str, Any] = {}

    def measure() -> dict[str, Any]:
        # importance as it stands: refitted only when a trial completed since (a forest per objective)
        trials = study.trials()
        key = sum(1 for t in trials if t.status is TrialStatus.COMPLETED)
        if cached.get("key") != key:
            found = importance(study.space, trials, study.objectives, study.seed)
            cached.update(key=key, data={name: imp.to_dict() for name, imp in found.items()})
        return dict(cached["data"])

    async def importances(request: Request) -> Response:
        if not allowed(request):
            return refuse()
        return JSONResponse(await run_in_threadpool(measure), headers=_headers())

    async def assets(request: Request) -> Response:
        if not allowed(request):
            return refuse()
        if not plotly_js:
            from plotly.offline import get_plotlyjs

            plotly_js.append(get_plotlyjs().encode())
        return Response(plotly_js[0], media_type="text/javascript",
                        headers={"Cache-Control": "private, max-age=86400", **_headers()})

    async def intervene(request: Request) -> Response:
        form = await request.form()
        fields = {k: str(v) for k, v in form.items()}
        if not allowed(request) or not hmac.compare_digest(fields.get("token", "").encode(), token.encode()):
            return refuse()
        if not _same_origin(request):
            return PlainTextResponse("forbidden: a cross-site form post", 403)
        try:
            done = _apply(study, fields)
        except MetamlError as exc:
            return RedirectResponse("/?" + urlencode({"error": str(exc)}), 303)
        return RedirectResponse("/?" + urlencode({"message": done}), 303)

    routes = [Route("/", page), Route("/api/state", state), Route("/api/trial/{number:int}", trial),
              Route("/api/importance", importances), Route("/assets/plotly.js", assets), Route("/intervene", intervene, methods=["POST"])]
    return Starlette(routes=routes)


def _headers() -> dict[str, str]:
    # no framing by other sites, no sniffing, and scripts only from this app (the page's own inline script too)
    return {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
            "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
                                       "style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'"}


def _same_origin(request: Request) -> bool:
    """Whether a post comes from this app's own page: the browser's own word on it, then Origin or Referer."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return False
    return urlsplit(source).netloc == request.headers.get("host", "")


def _apply(study: Study, f: dict[str, str]) -> str:
    """Run the form's intervention; its description, or a MetamlError saying why not (nothing written)."""
    action, target = f.get("action", ""), f.get("target", "").strip()
    author, reason = f.get("author", "").strip() or None, f.get("reason", "").strip()
    if action == "pin":
        done = study.pin(target, f.get("value", "").strip(), author=author, reason=reason)
    elif action == "unpin":
        done = study.unpin(target, author=author, reason=reason)
    elif action == "prior":
        done = study.prior(target, f.get("value", "").strip(), f.get("confidence", "medium"), author=author,
                           reason=reason)
    elif action == "narrow":
        done = study.narrow(target, f.get("low", "").strip(), f.get("high", "").strip(), author=author, reason=reason)
    elif action == "limit":
        value = f.get("value", "").strip()
        done = study.limit(target, None if value.lower() in ("", "none") else value, author=author, reason=reason)
    elif action == "note":
        trial = f.get("trial", "").strip()
        if trial and not trial.isdigit():
            raise MetamlError(f"a note's trial is a trial number, not {trial!r}")
        done = study.note(f.get("value", ""), int(trial) if trial else None, author=author)
    elif action == "enqueue":
        try:
            config: Any = json.loads(f.get("value", ""))
        except json.JSONDecodeError as exc:
            raise MetamlError(f"the configuration to enqueue is not JSON: {exc}") from None
        if not isinstance(config, dict):
            raise MetamlError("the configuration to enqueue is a JSON mapping of parameter names to values")
        record = study.enqueue(config, reason=reason, author=author or default_author())
        return f"queued trial {record.number}"
    else:
        raise MetamlError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
    return done.describe()


__all__ = ["ACTIONS", "COOKIE", "make_app"]
