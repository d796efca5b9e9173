"""The console's application: sessions, CSRF, the right each page needs, the routes.

Every request passes the guard before any page sees it, in this order: the route and method must
be declared (others: 404/405); HEAD is served as a GET with no body and no effect; the body is
capped by the route's limit while it streams (413), and read only once the session is known; a
page other than the log-in page and the health check needs an open session (kept server-side, see
``records.accounts``); the session's role must hold the right the route declares for the method
(the one table of rights, ``records.accounts.RIGHTS``); every method but GET needs the session's
CSRF token. Only then does the page run.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from broadcaster.i18n import _, speaking
from broadcaster.records.accounts import Accounts
from broadcaster.web import api, control, editing, emergency, pages, speak
from broadcaster.web.common import HERE, IDLE_MINUTES, PUBLIC, Console, Page, address, lang_of, secret_key

STATIC = Page("/static", None, {"GET": PUBLIC}, 0)
API = "/api/v1/"


class TooLarge(Exception):
    pass


class Guard:
    """Route, method, body size, session, right and CSRF, for every request (pure ASGI, before any page)."""

    def __init__(self, app, pages: list[Page]):
        self.app = app
        self.pages = pages

    def page_of(self, scope) -> tuple[Page | None, bool]:
        """The page a request is for, and whether its path exists at all (for another method: 405)."""
        found = False
        for route, page in self.pages:
            match, _child = route.matches(scope)
            if match == Match.FULL:
                return page, True
            found = found or match == Match.PARTIAL
        return None, found

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        send = _with_security_headers(send)
        if scope["method"] == "HEAD":   # a GET whose answer has no body: never an effect, never a body read
            scope, receive = {**scope, "method": "GET"}, _replay(b"", receive)
        request = Request(scope, receive)
        lang = request.state.lang = lang_of(request)
        with speaking(lang):   # every message of this answer in its language, passed a lang or not
            return await self._answer(scope, receive, send, request, lang)

    async def _answer(self, scope, receive, send, request: Request, lang: str):
        method = scope["method"]

        async def answer(text: str, status: int, headers: dict | None = None):
            await PlainTextResponse(text, status, headers=headers)(scope, receive, send)

        names = {k.lower() for k, _v in scope.get("headers", ())}
        if b"transfer-encoding" in names and b"content-length" in names:   # request smuggling's shape: never both
            return await answer(_("refused: a request with both Transfer-Encoding and Content-Length", lang), 400)
        page, exists = self.page_of(scope)
        if page is not None and method not in page.rights:
            page = None
        if page is None and exists:
            return await answer(_("refused: this page does not take {method}", lang, method=method), 405)
        session = request.session
        session.setdefault("csrf", secrets.token_urlsafe(24))
        public = page is not None and page.rights[method] == PUBLIC
        limit = page.body if page is not None else 0
        if method == "GET":
            receive = _replay(b"", receive)
        elif _declared_length(request) > limit:
            return await answer(_too_large(limit, lang), 413)
        console: Console = request.app.state.console
        user = None
        bearer = _bearer(request)
        if bearer is not None:   # a program's token: only for the API, never with a session's rights
            user = console.accounts.token_user(bearer) if scope["path"].startswith(API) else None
            if user is None:
                console.accounts.audit(None, address(request), "refused", f"token for {method} {scope['path']}")
                return await answer(_("refused: no such API token (or not an /api/v1/ address)", lang), 401)
        if not public:
            user = user or console.accounts.session_user(session.get("sid"), console.idle, time.time())
            if user is None:
                session.pop("sid", None)
                if method == "GET":
                    return await RedirectResponse("/login?next=" + scope["path"], 303)(scope, receive, send)
                return await answer(_("refused: you are not logged in (or your session ended); log in again", lang),
                                    403)
            request.state.user = user
            scope.setdefault("state", {})["user"] = user
            if page is None:   # no such page: 404 from the router, to people who are logged in
                return await self.app(scope, receive, send)
            if not user.may(page.rights[method]):
                console.accounts.audit(user.name, address(request), "refused", f"{method} {scope['path']}")
                return await answer(_("{name} ({role}) may not do that", lang, name=user.name, role=user.role), 403)
        if method != "GET" and bearer is None:   # a browser's request: its session's CSRF token, read from the body
            original = receive
            try:
                body = await _read_capped(receive, limit)
            except TooLarge:
                return await answer(_too_large(limit, lang), 413)
            receive = _replay(body, receive)
            request = Request(scope, receive)
            sent = request.headers.get("x-csrf-token")
            if sent is None and request.headers.get("content-type", "").startswith(
                    ("application/x-www-form-urlencoded", "multipart/form-data")):
                with contextlib.suppress(Exception):   # a form that does not parse has no token: refused below
                    async with request.form() as form:
                        sent = form.get("csrf")
                receive = _replay(body, original)
            if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), session["csrf"].encode()):
                return await answer(_("refused: the form is out of date (no valid CSRF token); reload the page",
                                      lang), 403)
        elif method != "GET":   # a token's request: the body capped as it streams, no CSRF (no cookie is involved)
            try:
                receive = _replay(await _read_capped(receive, limit), receive)
            except TooLarge:
                return await answer(_too_large(limit, lang), 413)
        return await self.app(scope, receive, send)


# every answer: scripts and styles from this console only (style attributes allowed: the bars and the chart),
# no framing by another site, no guessing of types, no full address sent elsewhere
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                 b"img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; "
                                 b"worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
                                 b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def _with_security_headers(send):
    async def sending(message):
        if message["type"] == "http.response.start":
            have = {k.lower() for k, _v in message.get("headers", ())}
            message = {**message, "headers": [*message.get("headers", ()),
                                              *((k, v) for k, v in SECURITY_HEADERS if k not in have)]}
        await send(message)
    return sending


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth[:7].lower() == "bearer " else None


def _declared_length(request: Request) -> int:
    try:
        return int(request.headers.get("content-length") or 0)
    except ValueError:
        return 1 << 62   # not a number: as good as too large


def _too_large(limit: int, lang: str) -> str:
    if limit >= 1_000_000:
        return _("refused: the upload is larger than {size} MB", lang, size=limit // 1_000_000)
    return _("refused: the request is larger than this page takes ({size} bytes)", lang, size=limit)


async def _read_capped(receive, limit: int) -> bytes:
    """The request body, read as it streams (chunked or not), stopped as soon as it passes ``limit``."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, then):
    """A receive that gives ``body`` as the whole request, then waits on ``then`` (the real one) for the
    client's disconnect, as a response that watches for it (a file being sent) expects."""
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        while True:
            message = await then()
            if message["type"] == "http.disconnect":
                return message
    return receive


def page_table() -> list[Page]:
    """Every page of the console, with its rights per method: the one table the guard reads."""
    return [*pages.ROUTES, *editing.ROUTES, *control.ROUTES, *emergency.ROUTES, *speak.ROUTES, *api.ROUTES]


def create_app(config_path: Path, *, allow_outside: bool = False, secure: bool = False,
               idle_minutes: float = IDLE_MINUTES) -> Starlette:
    from broadcaster.web.uploads import prune_daily
    console = Console(config_path.resolve(), allow_outside, secure, idle_minutes * 60)
    cfg = console.cfg()
    console.accounts = Accounts(cfg.paths.state)
    import jinja2
    console.templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                                                               autoescape=True))
    table = page_table()
    routes = [Route(p.path, p.endpoint, methods=list(p.rights)) for p in table]
    static = Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    guarded = [*zip(routes, table), (static, STATIC)]

    @contextlib.asynccontextmanager
    async def lifespan(app):
        import asyncio
        task = asyncio.create_task(prune_daily(console))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = Starlette(routes=[*routes, static], lifespan=lifespan, middleware=[
        Middleware(SessionMiddleware, secret_key=secret_key(cfg.paths.state), session_cookie="broadcaster",
                   max_age=None, same_site="strict", https_only=secure),
        Middleware(Guard, pages=guarded)])
    app.state.console = console
    return app
