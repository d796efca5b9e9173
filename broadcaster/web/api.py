"""The JSON API (``/api/v1/``) for the provincial system and other programs: the same actions, rights,
places, checks and audit as the pages, with a bearer token (`broadcaster token add`) instead of a
session. Documented with curl examples in docs/api.md."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from broadcaster.config import PRIORITIES
from broadcaster.dispatch.play import Ask, Refused, carry_out, route
from broadcaster.errors import BroadcasterError
from broadcaster.fleet.orders import DEFAULT_DEADLINE
from broadcaster.i18n import _
from broadcaster.records.accounts import allowed_zones
from broadcaster.records.overview import zone_states
from broadcaster.records.playlog import Journal
from broadcaster.config.schedule import airings
from broadcaster.web.common import FORM, Page, address, day_start, json_body, urgent_refused

MAX_DAYS = 14


def _error(request: Request, status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


def _now(cfg) -> datetime:
    return datetime.now(ZoneInfo(cfg.timezone))


async def zones(request: Request) -> Response:
    """Every zone (cluster) with its place and groups."""
    cfg = request.app.state.console.cfg()
    member = {z: [g for g, ids in cfg.groups.items() if z in ids] for z in cfg.zones}
    return JSONResponse({"zones": [{"id": z.id, "name": z.name, "village": z.village, "aliases": list(z.aliases),
                                    "lat": z.position[0] if z.position else None,
                                    "lon": z.position[1] if z.position else None, "kind": z.kind,
                                    "station": z.station, "groups": member[z.id]} for z in cfg.zones.values()],
                         "groups": {g: list(ids) for g, ids in cfg.groups.items()}})


async def status(request: Request) -> Response:
    """What each zone is doing now and what comes next, as `status` says it."""
    cfg = request.app.state.console.cfg()

    def read():
        journal = Journal(cfg.paths.state)
        try:
            return zone_states(cfg, journal, _now(cfg))
        finally:
            journal.close()
    states = await asyncio.to_thread(read)
    return JSONResponse({"zones": [{
        "zone": s.zone, "name": s.name, "served": s.served,
        "playing": {"bulletin": s.playing.bulletin, "since": s.playing.started} if s.playing else None,
        "next": {"time": s.coming.time.isoformat(), "bulletin": s.coming.bulletin} if s.coming else None,
        "last": {"scheduled": s.last.scheduled, "bulletin": s.last.bulletin, "status": s.last.status}
        if s.last else None,
        "device_problem": s.device_problem or None, "alerts": [a.line() for a in s.alerts]} for s in states],
        "configuration_problem": request.app.state.console.problem})


async def coming(request: Request) -> Response:
    """The coming airings, as `next --json` lists them (?days=N, 1..14)."""
    cfg = request.app.state.console.cfg()
    days = request.query_params.get("days") or "2"
    if not days.isdigit() or not 1 <= int(days) <= MAX_DAYS:
        return _error(request, 400, _("days must be a whole number from 1 to 14, not {value}", request.state.lang,
                                      value=days[:20]))
    from broadcaster.render.sidecar import durations
    now = _now(cfg)
    found = airings(cfg, now, now + timedelta(days=int(days)), lengths=durations(cfg))
    return JSONResponse([{"time": a.time.isoformat(), "zone": a.zone, "bulletin": a.bulletin, "priority": a.priority,
                          **({"moved_from": a.moved_from.isoformat()} if a.moved_from else {})} for a in found])


async def log(request: Request) -> Response:
    """The play log (?since=YYYY-MM-DD&zone=Z), newest last, at most 5,000 rows."""
    cfg = request.app.state.console.cfg()
    q = request.query_params
    since = None
    if q.get("since"):
        try:
            since = day_start(cfg, q["since"])
        except ValueError:
            return _error(request, 400, _("give the dates as YYYY-MM-DD, like {example}", request.state.lang,
                                          example=_now(cfg).date().isoformat()))

    def read():
        journal = Journal(cfg.paths.state)
        try:
            return journal.rows(since=since, zone=q.get("zone") or None, newest=5000)
        finally:
            journal.close()
    return JSONResponse([r.__dict__ for r in await asyncio.to_thread(read)])


async def play(request: Request) -> Response:
    """Play a bulletin now: {"bulletin": ID, "zones": [...], "groups": [...], "priority": "normal"}; queued for
    the daemons that serve the zones, within the caller's places."""
    console = request.app.state.console
    cfg = console.cfg()
    lang = request.state.lang
    body = await json_body(request)
    if not isinstance(body, dict):
        return _error(request, 400, _('send JSON like {{"bulletin": "thong-bao", "zones": ["xa"]}}', lang))
    bulletin, priority = body.get("bulletin"), body.get("priority", "normal")
    names = body.get("zones", []), body.get("groups", [])
    if bulletin not in cfg.bulletins:
        return _error(request, 400, _('bulletin "{bulletin}" is not defined{suggestion}', lang,
                                      bulletin=str(bulletin)[:64], suggestion=""))
    if priority not in PRIORITIES or not all(isinstance(x, list) and all(isinstance(n, str) for n in x)
                                             for x in names):
        return _error(request, 400, _('send JSON like {{"bulletin": "thong-bao", "zones": ["xa"]}}', lang))
    unknown = [z for z in names[0] if z not in cfg.zones] + [g for g in names[1] if g not in cfg.groups]
    if unknown:
        return _error(request, 400, _("{places}: no such zone or group (write zone ids, or group:NAME from [groups])",
                                      lang, places=", ".join(unknown)[:200]))
    user = request.state.user
    now = _now(cfg)
    journal = Journal(cfg.paths.state)
    try:
        served = {z for _pid, zs in journal.live_daemons() for z in zs}
        try:
            where = route(cfg, Ask(bulletin, zones=tuple(names[0]), groups=tuple(names[1]), priority=priority),
                          served=served, at=now, user=user, lang=lang)
        except Refused as e:
            if e.audit:
                console.accounts.audit(user.name, address(request), "refused", e.audit)
            return _error(request, e.status, str(e))
        try:
            done = await carry_out(cfg, where, journal, now, now + DEFAULT_DEADLINE)
        except BroadcasterError as e:
            return _error(request, 502, e.message)
    finally:
        journal.close()
    console.accounts.audit(user.name, address(request), "play", f"{bulletin} on {', '.join(where.places)} ({priority})")
    return JSONResponse({"requests": [{"id": i, "zone": z} for i, z in done.requests.items()],
                         "stations": [{"station": s.station, "command": s.id} for s in done.sent]}, 202)


async def new_bulletin(request: Request) -> Response:
    """A new announcement with its schedule: {"title", "text", "times": ["05:30"], "days": ["mon"], "start",
    "end", "except": ["YYYY-MM-DD"], "zones": [...], "groups": [...], "priority", "id", "once": "YYYY-MM-DD",
    "weeks": N, "monthly": "2nd sun", "engine"}; 201 with its id and
    its first airings, or 400 with what is wrong per field (nothing written)."""
    from broadcaster.config import load_config
    from broadcaster.config.compose import Announcement, ComposeError, save_announcement
    console = request.app.state.console
    cfg = console.cfg()
    body = await json_body(request)
    texts = ("title", "text", "start", "end", "priority", "id", "once", "monthly", "engine")
    lists = ("times", "days", "except", "zones", "groups")
    if not isinstance(body, dict) or any(k in body and body[k] is not None and not isinstance(body[k], str)
                                         for k in texts) \
            or any(not isinstance(body.get(k, []), list) or not all(isinstance(x, str) for x in body.get(k, []))
                   for k in lists):
        return _error(request, 400, _('send JSON like {{"title": "…", "text": "…", "times": ["05:30"], '
                                      '"zones": ["xa"]}}', request.state.lang))
    user = request.state.user
    places = [*body.get("zones", []), *(f"group:{g}" for g in body.get("groups", []))]
    ann = Announcement(title=body.get("title") or "", text=body.get("text") or "", times=body.get("times", []),
                       zones=places, days=body.get("days", []), start=body.get("start"), end=body.get("end"),
                       skip=body.get("except", []), priority=body.get("priority") or "normal", id=body.get("id"),
                       once=body.get("once"), monthly=body.get("monthly"), engine=body.get("engine"),
                       weeks=body.get("weeks", 1))
    allowed = allowed_zones(user, cfg.zones, cfg.groups)
    from broadcaster.config.places import expand_targets
    if any(z not in allowed for z in expand_targets(places, cfg.zones, cfg.groups)[0]):
        console.accounts.audit(user.name, address(request), "refused", "new bulletin outside its places")
        return _error(request, 403, _("{name} may play only on {places}", request.state.lang, name=user.name,
                                      places=", ".join(user.places)))
    if (why := urgent_refused(user, ann.priority, request.state.lang)) is not None:
        console.accounts.audit(user.name, address(request), "refused", "new bulletin at urgent priority")
        return _error(request, 403, why)
    try:
        aid = await asyncio.to_thread(save_announcement, cfg, ann,
                                      lambda p: load_config(p, allow_outside=console.allow_outside))
    except ComposeError as e:
        return JSONResponse({"error": e.message, "fields": e.fields}, 400)
    except BroadcasterError as e:   # another writer held schedule.toml too long: nothing was written
        return _error(request, 503, str(e))
    console.accounts.audit(user.name, address(request), "new bulletin", aid)
    return JSONResponse({"id": aid}, 201)


ROUTES = [
    Page("/api/v1/zones", zones, {"GET": "view"}),
    Page("/api/v1/status", status, {"GET": "view"}),
    Page("/api/v1/next", coming, {"GET": "view"}),
    Page("/api/v1/log", log, {"GET": "view"}),
    Page("/api/v1/play", play, {"POST": "play"}, FORM),
    Page("/api/v1/bulletins", new_bulletin, {"POST": "edit"}, 4 * 200_000 + FORM),
]
