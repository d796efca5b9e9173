"""The console's application: sessions, CSRF, the right each page needs, the routes.

Every request but the log-in page, the health check and the static files needs a session; every
state-changing request needs the session's CSRF token; each route names the right it needs
(``ROUTES`` of each page module) and the guard checks it against the one table of rights
(``station.accounts.RIGHTS``) before the page runs.
"""

from __future__ import annotations

import hmac
import secrets
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from broadcaster.i18n import _
from broadcaster.station.accounts import Accounts
from broadcaster.web import control, editing, pages
from broadcaster.web.common import HERE, IDLE_MINUTES, Console, address, lang_of, secret_key

PUBLIC = ("/login", "/health", "/static")
MAX_BODY = 60_000_000   # bytes of one request (an uploaded recording)


class Guard:
    """Session, idle time-out, CSRF and rights, for every request (pure ASGI, before any page)."""

    def __init__(self, app, rights: dict[str, str]):
        self.app = app
        self.rights = rights

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope, receive)
        request.state.lang = lang_of(request)
        console: Console = request.app.state.console
        session = request.session
        session.setdefault("csrf", secrets.token_urlsafe(24))
        if request.method not in ("GET", "HEAD"):
            if int(request.headers.get("content-length") or 0) > MAX_BODY:
                return await PlainTextResponse(_("refused: the upload is larger than {size} MB", request.state.lang,
                                                 size=MAX_BODY // 1_000_000), 413)(scope, receive, send)
            body = await request.body()   # kept, and given again to the page below
            receive = _replay(body)
            sent = request.headers.get("x-csrf-token")
            if sent is None and request.headers.get("content-type", "").startswith(
                    ("application/x-www-form-urlencoded", "multipart/form-data")) and len(body) <= MAX_BODY:
                sent = (await request.form()).get("csrf")
            if not sent or not hmac.compare_digest(str(sent), session["csrf"]):
                return await PlainTextResponse(_("refused: the form is out of date (no valid CSRF token); "
                                                 "reload the page", request.state.lang), 403)(scope, receive, send)
        path = scope["path"]
        if path.startswith(PUBLIC):
            return await self.app(scope, receive, send)
        user = None
        name = session.get("user")
        if name:
            user = console.accounts.get(name)
            if user is None or user.epoch != session.get("epoch") or time.time() - session.get("seen", 0) > console.idle:
                session.pop("user", None)
                user = None
        if user is None:
            target = "/login?next=" + path if request.method == "GET" else "/login"
            return await RedirectResponse(target, 303)(scope, receive, send)
        session["seen"] = time.time()
        request.state.user = user
        scope.setdefault("state", {})["user"] = user
        right = self.rights.get(_route_of(path))   # None: no such page, answered 404 below
        if right is not None and not user.may(right):
            console.accounts.audit(user.name, address(request), "refused", f"{request.method} {path}")
            return await PlainTextResponse(_("{name} ({role}) may not do that", request.state.lang, name=user.name,
                                             role=user.role), 403)(scope, receive, send)
        return await self.app(scope, receive, send)


def _route_of(path: str) -> str:
    parts = path.strip("/").split("/")
    return "/" + parts[0] if parts[0] else "/"


def _replay(body: bytes):
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}
    return receive


def create_app(config_path: Path, *, allow_outside: bool = False, secure: bool = False,
               idle_minutes: float = IDLE_MINUTES) -> Starlette:
    console = Console(config_path.resolve(), allow_outside, secure, idle_minutes * 60)
    cfg = console.cfg()
    console.accounts = Accounts(cfg.paths.state)
    import jinja2
    console.templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                                                               autoescape=True))
    # each route and the right it needs: the one table the guard reads
    table = [*pages.ROUTES, *editing.ROUTES, *control.ROUTES]
    rights = {}
    routes = []
    for path, endpoint, methods, right in table:
        routes.append(Route(path, endpoint, methods=methods))
        rights[_route_of(path)] = right
    routes.append(Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"))
    app = Starlette(routes=routes, middleware=[
        Middleware(SessionMiddleware, secret_key=secret_key(cfg.paths.state), session_cookie="broadcaster",
                   max_age=None, same_site="strict", https_only=secure),
        Middleware(Guard, rights=rights)])
    app.state.console = console
    return app
