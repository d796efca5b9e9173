"""What the console's pages share: the project (configuration and stores), the language of a request,
the client's address, and rendering a template in that language."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from broadcaster.config import Config, day_in_range, load_config
from broadcaster.errors import BroadcasterError
from broadcaster.fsutil import atomic_write_bytes, private_file
from broadcaster.i18n import LANGUAGES, _, day, when
from broadcaster.records.accounts import ROLE_WORDS, Accounts

HERE = Path(__file__).parent
IDLE_MINUTES = 30
PUBLIC = ""          # a page anybody may open, logged in or not (the log-in page, the health check)
FORM = 64_000        # bytes of a plain form's body


@dataclass(frozen=True)
class Page:
    """One route: its path, what answers it, the right each method needs (GET also serves HEAD,
    with the same right and no effect), and the largest request body it takes."""
    path: str
    endpoint: Callable
    rights: dict[str, str]
    body: int = FORM


@dataclass
class Console:
    """What every page shares: the project's configuration (read again when it changes) and its stores."""
    config_path: Path
    allow_outside: bool = False
    secure: bool = False
    idle: float = IDLE_MINUTES * 60
    _cfg: Config | None = None
    _stamp: tuple = ()
    problem: str | None = None   # why the project's configuration cannot be used now (the last good one serves)
    accounts: Accounts | None = None
    templates: Jinja2Templates = field(default=None)

    def cfg(self) -> Config:
        """The project's configuration; when it cannot be loaded, the last good one (the one read before, or the
        one the daemon kept), with ``problem`` saying why, shown on every page as an alert."""
        try:
            st = self.config_path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)   # a replaced file is a new inode, even within one tick
        except OSError:
            stamp = ()
        if self._cfg is None or stamp != self._stamp:
            try:
                self._cfg = load_config(self.config_path, allow_outside=self.allow_outside)
                self.problem = None
            except BroadcasterError as e:
                self.problem = str(e)
                if self._cfg is None:
                    from broadcaster.config.lastgood import last_good
                    kept = last_good(self.config_path, self.allow_outside)
                    if kept is None:
                        raise   # never a good one here
                    self._cfg = kept.cfg
            self._stamp = stamp
        return self._cfg


async def json_body(request: Request):
    """The request's JSON, or None when it is not JSON or holds text no file can take (a lone surrogate such as
    "\\ud800", which json reads and UTF-8 cannot write): the caller answers 400, never 500 later on."""
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError):
        return None
    return body if _encodable(body) else None


def _encodable(value, depth: int = 0) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if depth > 20:
        return False
    if isinstance(value, dict):
        return all(_encodable(k, depth + 1) and _encodable(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(v, depth + 1) for v in value)
    return True


def urgent_refused(user, priority: str, lang: str) -> str | None:
    """Why ``user`` may not schedule an airing at ``priority``: urgent interrupts everything, even in quiet hours,
    and is the right of those who may play now and start emergencies (docs/console.md's table); else None."""
    if priority == "urgent" and not user.may("play"):
        return _("{name} ({role}) may not schedule urgent airings: urgent is for those who may play now and "
                 "start emergencies", lang, name=user.name, role=user.role)
    return None


def secret_key(state: Path) -> str:
    """The key that signs session cookies, made once and kept private in the state folder."""
    path = state / "web.secret"
    if not path.is_file():
        atomic_write_bytes(path, secrets.token_urlsafe(48).encode())
        private_file(path)
        path.chmod(0o600)
    return path.read_text().strip()


def day_start(cfg: Config, text: str) -> float:
    """The first instant of a day written YYYY-MM-DD, in the project's time zone (ValueError if it is not one,
    or is outside the dates broadcaster takes)."""
    d = date.fromisoformat(text)
    if not day_in_range(d):
        raise ValueError(text)
    return datetime.combine(d, datetime.min.time(), ZoneInfo(cfg.timezone)).timestamp()


def lang_of(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    accept = request.headers.get("accept-language", "vi").lower()
    first_en = accept.find("en")
    first_vi = accept.find("vi")
    return "en" if first_en != -1 and (first_vi == -1 or first_en < first_vi) else "vi"


def address(request: Request) -> str:
    return request.client.host if request.client else "?"


def render(request: Request, template: str, status_code: int = 200, **context) -> Response:
    console: Console = request.app.state.console
    lang = request.state.lang
    context.update(request=request, user=getattr(request.state, "user", None), lang=lang,
                   csrf=request.session.get("csrf", ""),
                   _=lambda msgid, **kw: _(msgid, lang, **kw), when=lambda t, **kw: when(t, lang, **kw),
                   day=lambda d: day(d, lang), role_word=lambda r: _(ROLE_WORDS[r], lang),
                   stamp=lambda t: when(datetime.fromtimestamp(t, ZoneInfo(console.cfg().timezone)), lang,
                                        seconds=True),
                   cfg=console.cfg(), path=request.url.path, problem=console.problem)
    response = console.templates.TemplateResponse(request, template, context, status_code=status_code)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie("lang", request.query_params["lang"], max_age=365 * 86400, samesite="strict",
                            httponly=True, secure=console.secure)
    return response


def targets_within(cfg: Config, zone_ids) -> dict:
    """What a page offers as targets among ``zone_ids`` (an account's places): those zones, and the groups
    and villages wholly inside them."""
    from broadcaster.config.places import villages_of
    ids = set(zone_ids)
    return dict(zones={z: zone for z, zone in cfg.zones.items() if z in ids},
                groups={g: members for g, members in cfg.groups.items() if members and set(members) <= ids},
                villages={v: members for v, members in villages_of(cfg.zones).items() if set(members) <= ids})


def chosen_zones(cfg: Config, form, stations=()) -> list[str]:
    """The zone ids a form's targets name, each once, in order: its zones, the zones of its groups and of its
    villages, and those of its stations that are among ``stations``."""
    from broadcaster.config.places import villages_of
    villages = villages_of(cfg.zones)
    asked = [z for z in form.getlist("zone") if z in cfg.zones]
    for g in form.getlist("group"):
        asked += cfg.groups.get(g, ())
    for v in form.getlist("village"):
        asked += villages.get(v, ())
    for s in form.getlist("station"):
        if s in stations:
            asked += cfg.zones_of(s)
    return list(dict.fromkeys(asked))
