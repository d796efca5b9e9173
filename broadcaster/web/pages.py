"""Log-in, overview (live), schedule, play log and report pages."""

from __future__ import annotations

import csv
import io
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from broadcaster.config import PRIORITY_WORDS, day_in_range
from broadcaster.config.model import out_of_range
from broadcaster.i18n import N_, _
from broadcaster.render.sidecar import durations
from broadcaster.records.accounts import AccessError
from broadcaster.records.overview import heard_of, zone_states
from broadcaster.records.playlog import STATUS_WORDS, Journal
from broadcaster.records.report_formats import safe_cells
from broadcaster.config.schedule import airings, length_of
from broadcaster.web.common import PUBLIC, Page, address, day_start, render


TABLE_ROWS = 300   # airings listed under the schedule's chart (the chart shows them all)
MAX_REPORT_DAYS = 366   # a report over more is refused (ten years took 8 s of a core); a year fits


def status_word(status: str) -> str:
    """A play-log status as the reader says it ("đã phát", not "played")."""
    return _(STATUS_WORDS[status]) if status in STATUS_WORDS else status


def _now(cfg) -> datetime:
    return datetime.now(ZoneInfo(cfg.timezone))


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def login(request: Request) -> Response:
    console = request.app.state.console
    error = None
    if request.method == "POST":
        form = await request.form()
        name, password = str(form.get("name", "")).strip().lower(), str(form.get("password", ""))
        try:
            user = console.accounts.authenticate(name, password, address(request))
        except AccessError as e:
            console.accounts.audit(name or None, address(request), "login failed", e.message)
            error = e.message
        else:
            old = request.session.get("sid")
            if old:
                console.accounts.end_session(old)
            request.session.clear()   # a new session at each log-in, with a new token
            request.session.update(sid=console.accounts.open_session(user, address(request), time.time()),
                                   csrf=__import__("secrets").token_urlsafe(24))
            console.accounts.audit(user.name, address(request), "login")
            target = str(form.get("next") or "/")
            return RedirectResponse(target if target.startswith("/") and not target.startswith("//") else "/", 303)
    return render(request, "login.html", error=error, next=request.query_params.get("next", "/"),
                  status_code=401 if error else 200)


async def logout(request: Request) -> Response:
    user = request.state.user
    accounts = request.app.state.console.accounts
    accounts.end_session(request.session.get("sid", ""))   # the cookie opens nothing from now on
    accounts.audit(user.name, address(request), "logout")
    request.session.clear()
    return RedirectResponse("/login", 303)


def _overview_context(request: Request) -> dict:
    console = request.app.state.console
    cfg = console.cfg()
    now = _now(cfg)
    journal = Journal(cfg.paths.state)
    try:
        zones = zone_states(cfg, journal, now)
        stations = _stations(cfg, journal) if cfg.is_hub else None
    finally:
        journal.close()
    from broadcaster.fleet.status import version_counts
    return dict(zones=zones, stations=stations, now=now, status_word=status_word, version_counts=version_counts,
                priority_word=lambda p: PRIORITY_WORDS[p], heard_of=lambda r: heard_of(r.__dict__))


def _stations(cfg, journal: Journal) -> list[dict]:
    """At a hub: each station below from its heartbeat (offline for all when the server does not answer)."""
    import asyncio
    from broadcaster.errors import BroadcasterError
    from broadcaster.fleet.status import fleet_view, station_rows
    try:
        return asyncio.run(fleet_view(cfg, journal, name="broadcaster console"))
    except BroadcasterError:
        return station_rows(cfg, {}, {}, journal.station_counts())


async def overview(request: Request) -> Response:
    import asyncio
    return render(request, "overview.html", **(await asyncio.to_thread(_overview_context, request)))


async def live(request: Request) -> Response:
    """The live part of the overview, fetched again every two seconds by the page."""
    import asyncio
    return render(request, "_live.html", **(await asyncio.to_thread(_overview_context, request)))


async def schedule(request: Request) -> Response:
    cfg = request.app.state.console.cfg()
    days = request.query_params.get("days") or "2"
    if not days.isascii() or not days.isdigit() or not 1 <= int(days) <= 14:
        return PlainTextResponse(_("days must be a whole number from 1 to 14, not {value}", request.state.lang,
                                   value=days[:20]), 400)
    days = int(days)
    now = _now(cfg)
    start = datetime.combine(now.date(), datetime.min.time(), now.tzinfo)
    lengths = durations(cfg)
    found = airings(cfg, start, start + timedelta(days=days), include_suppressed=True, lengths=lengths)
    by_day: dict[tuple[str, int], list] = {}   # each airing looked at once (150 clusters × 7 days × 10,500 was slow)
    for a in found:
        by_day.setdefault((a.zone, (a.time.astimezone(start.tzinfo).date() - start.date()).days), []).append(a)
    # zones that air the same things at the same times (a commune's clusters under one programme) share
    # one bar per day: 150 clusters with one programme are one row, not 150 (and one page, not 1.6 MB)
    same: dict[tuple, list] = {}
    for zid, z in cfg.zones.items():
        key = (z.quiet, tuple(tuple((a.time, a.bulletin, a.priority, a.suppressed, a.ends) for a in by_day.get((zid, d), ()))
                              for d in range(days)))
        same.setdefault(key, []).append(z)
    rows, spans_all = [], []
    for zones in same.values():
        z = zones[0]
        label = z.name if len(zones) == 1 else _("{first} and {count} more", request.state.lang, first=z.name,
                                                   count=len(zones) - 1)
        for d in range(days):
            day0 = start + timedelta(days=d)
            spans = []
            for a in by_day.get((z.id, d), ()):
                if not day0 <= a.time < day0 + timedelta(days=1):
                    continue
                minute = (a.time - day0).total_seconds() / 60
                length = length_of(a, lengths) or 60.0
                spans.append({"a": a, "left": minute / 14.4, "width": max(0.15, length / 60 / 14.4),
                              "end": a.time + timedelta(seconds=length), "clash": False, "where": label,
                              "count": len(zones)})
            spans.sort(key=lambda s: s["a"].time)
            for prev, cur in zip(spans, spans[1:]):
                if not cur["a"].suppressed and not prev["a"].suppressed and cur["a"].time < prev["end"]:
                    prev["clash"] = cur["clash"] = True
            quiet = []
            if z.quiet:
                q0, q1 = (t.hour * 60 + t.minute for t in z.quiet)
                quiet = [(q0, q1)] if q0 < q1 else [(q0, 1440), (0, q1)]
            rows.append({"zone": z, "label": label, "zones": zones, "day": day0.date(), "spans": spans,
                         "quiet": [(a / 14.4, (b - a) / 14.4) for a, b in quiet]})
            spans_all += spans
    spans = sorted(spans_all, key=lambda s: (s["a"].time, s["where"]))
    return render(request, "schedule.html", rows=rows, days=days, listed=spans[:TABLE_ROWS],
                  more=max(0, len(spans) - TABLE_ROWS), priority_word=lambda p: PRIORITY_WORDS[p])


async def schedule_change(request: Request) -> Response:
    """One airing moved or cancelled ("this Tuesday at 17:30, not 17:00"; "not today"), or a holiday added,
    written into schedule.toml as a technician would ([[changes]], [calendar] skip), comments kept."""
    import asyncio
    from broadcaster.config import load_config
    from broadcaster.config.calendar import write_calendar
    from broadcaster.config.slots import parse_time
    from broadcaster.errors import BroadcasterError, ConfigError
    from broadcaster.records.accounts import allowed_zones
    console = request.app.state.console
    cfg = console.cfg()
    user = request.state.user
    lang = request.state.lang
    f = await request.form()
    load = (lambda p: load_config(p, allow_outside=console.allow_outside))

    def bad(message: str, status: int = 400) -> Response:
        return PlainTextResponse(message, status)
    if f.get("holiday"):
        if user.places:
            console.accounts.audit(user.name, address(request), "refused", f"holiday outside its places: "
                                                                           f"{str(f['holiday'])[:20]}")
            return bad(_("{name} may play only on {places}", lang, name=user.name, places=", ".join(user.places)), 403)
        try:
            day = date.fromisoformat(str(f["holiday"]))
        except ValueError:
            return bad(_("give the date as YYYY-MM-DD, like 2026-12-08", lang))
        if not day_in_range(day):
            return bad(out_of_range("holiday", day, lang))
        what, change = f"holiday {day}", None
    else:
        bulletin = str(f.get("bulletin", ""))
        try:
            at = datetime.fromisoformat(str(f.get("at", ""))).replace(tzinfo=None, microsecond=0)
        except ValueError:
            return bad(_("at must be the airing's planned date and time, like 2026-12-08T17:00:00, not {value}", lang,
                         value=str(f.get("at", ""))[:40]))
        if not day_in_range(at.date()):
            return bad(out_of_range("at", at.date(), lang))
        tz = ZoneInfo(cfg.timezone)
        found = [a for a in airings(cfg, at.replace(tzinfo=tz), at.replace(tzinfo=tz) + timedelta(seconds=1),
                                    moves=False) if a.bulletin == bulletin]
        if not found:
            return bad(_("no airing of {bulletin} is planned at {time}", lang, bulletin=bulletin[:64],
                         time=at.isoformat()), 409)
        allowed = allowed_zones(user, cfg.zones, cfg.groups)
        zones = [a.zone for a in found if a.zone in allowed] if user.places else []   # a limited account: its own
        if user.places and not zones:
            console.accounts.audit(user.name, address(request), "refused", f"change outside its places: {bulletin}")
            return bad(_("{name} may play only on {places}", lang, name=user.name, places=", ".join(user.places)), 403)
        change = {"bulletin": bulletin, "at": at, "zones": zones}
        if f.get("action") == "cancel":
            change["cancel"] = True
            what = f"cancel {bulletin} at {at}"
        else:
            text = str(f.get("to", "")).strip()
            try:
                to = (datetime.combine(at.date(), parse_time(text)) if len(text) <= 8   # None: a TypeError
                      else datetime.fromisoformat(text).replace(tzinfo=None, microsecond=0))
            except (TypeError, ValueError):
                return bad(_('to must be a time like "17:30" (that day) or a date and time like 2026-12-08T17:30', lang))
            if not day_in_range(to.date()):
                return bad(out_of_range("to", to.date(), lang))
            change["to"] = to
            what = f"move {bulletin} from {at} to {to}"
    try:
        await asyncio.to_thread(write_calendar, cfg, load, change=change,
                                holiday=day if change is None else None)
    except ConfigError as e:
        return bad(e.message, 400)
    except BroadcasterError as e:   # another writer held schedule.toml too long: nothing was written
        return bad(str(e), 503)
    console.accounts.audit(user.name, address(request), "schedule change", what)
    return RedirectResponse("/schedule" + (f"?days={f['days']}" if str(f.get("days", "")).isdigit() else ""), 303)


def _log_rows(request: Request, newest: int | None = None) -> tuple[list, int]:
    """The play log as filtered on the page (the newest so many), and how many match in all."""
    cfg = request.app.state.console.cfg()
    q = request.query_params
    since = None
    if q.get("since"):
        try:
            since = day_start(cfg, q["since"])
        except ValueError:
            since = None
    zone = q.get("zone") or None
    status = q.get("status") or None
    journal = Journal(cfg.paths.state)
    try:
        rows = journal.rows(since=since, zone=zone, status=status, newest=newest)
        total = journal.count(since=since, zone=zone, status=status)
        if cfg.is_hub:
            theirs = journal.station_rows(since=since, zone=zone, status=status, station=q.get("station") or None)
            total += len(theirs)
            rows = sorted(rows + theirs, key=lambda r: r.scheduled)
            rows = rows[-newest:] if newest else rows
    finally:
        journal.close()
    return rows, total


async def log_page(request: Request) -> Response:
    import asyncio
    rows, total = await asyncio.to_thread(_log_rows, request, 500)
    return render(request, "log.html", rows=rows[::-1], total=total, statuses=STATUS_WORDS,
                  status_word=status_word, query=request.query_params,
                  name_of=lambda r: request.app.state.console.cfg().title_of(r.bulletin) if r.bulletin else (
                      Path(r.audio).name if r.audio else "-"),
                  heard_of=lambda r: heard_of(r.__dict__))


async def log_csv(request: Request) -> Response:
    import asyncio
    rows, _total = await asyncio.to_thread(_log_rows, request)
    out = io.StringIO()
    out.write("\ufeff")   # Excel opens it as UTF-8
    w = csv.writer(out)
    w.writerow(["scheduled", "started", "ended", "station", "zone", "bulletin", "status", "reason", "audio_sha256",
                "command", "heard", "heard_delay_ms", "heard_note"])
    for r in rows:
        w.writerow(safe_cells([r.scheduled, r.started, r.ended, r.station or "", r.zone,
                               r.bulletin or (Path(r.audio).name if r.audio else ""), r.status, r.reason or "",
                               r.audio_sha256 or "", r.command or "", r.heard or "",
                               "" if r.heard_delay_ms is None else r.heard_delay_ms, r.heard_note or ""]))
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="playlog.csv"'})


async def report(request: Request) -> Response:
    """The report of `broadcaster report`, for chosen dates, as its own self-contained page."""
    import asyncio
    cfg = request.app.state.console.cfg()
    q = request.query_params
    if not q.get("from"):
        today = _now(cfg).date()
        return render(request, "report.html", first=today - timedelta(days=6), last=today)

    lang = request.state.lang
    try:
        first, last = date.fromisoformat(q["from"]), date.fromisoformat(q.get("to") or q["from"])
    except ValueError:
        return PlainTextResponse(_("give the dates as YYYY-MM-DD, like {example}", lang,
                                   example=_now(cfg).date().isoformat()), 400)
    for key, d in (("from", first), ("to", last)):
        if not day_in_range(d):
            return PlainTextResponse(out_of_range(key, d, lang), 400)
    if not 0 <= (last - first).days < MAX_REPORT_DAYS:
        return PlainTextResponse(_("a report covers 1 to {days} days, from the first date to the last", lang,
                                   days=MAX_REPORT_DAYS), 400)

    def make() -> str:
        from broadcaster.records.report import build_report, combine
        from broadcaster.records.report_formats import render as render_report
        journal = Journal(cfg.paths.state)
        try:
            rows = journal.rows()
        finally:
            journal.close()
        now = _now(cfg)
        lengths = durations(cfg)
        parts = [build_report(cfg, rows, first, last, now, zones={z}, lengths=lengths) for z in cfg.zones]
        return render_report(combine(parts, first, last, now, cfg.timezone), cfg, "html")
    html = await asyncio.to_thread(make)
    return HTMLResponse(html if isinstance(html, str) else html.decode("utf-8"))


CLUSTER_STATES = {"playing": N_("playing"), "idle": N_("on line, idle"), "offline": N_("no daemon"),
                  "alert": N_("alert")}


def _clusters(request: Request) -> dict:
    """Every zone (cluster) with its place, groups, state, last airing and its proof of air; filtered."""
    cfg = request.app.state.console.cfg()
    journal = Journal(cfg.paths.state)
    try:
        states = {s.zone: s for s in zone_states(cfg, journal, _now(cfg))}
        below = _below(cfg, journal)
    finally:
        journal.close()
    q = {k: request.query_params.get(k, "") for k in ("village", "group", "state")}
    rows = []
    for zid, z in cfg.zones.items():
        s = states.get(zid)
        if s is None:
            if zid in below:
                rows.append({"id": zid, "name": z.name, "village": z.village, "position": z.position,
                             "groups": [g for g, ids in cfg.groups.items() if zid in ids], **below[zid]})
            continue
        state = ("alert" if s.alerts or s.device_problem else "playing" if s.playing
                 else "idle" if s.served else "offline")
        rows.append({"id": zid, "name": z.name, "village": z.village, "position": z.position, "state": state,
                     "groups": [g for g, ids in cfg.groups.items() if zid in ids], "last": s.last,
                     "heard": heard_of(s.last.__dict__) if s.last else "",
                     "alerts": [a.line() for a in s.alerts] + ([s.device_problem] if s.device_problem else [])})
    shown = [r for r in rows if (not q["village"] or r["village"] == q["village"])
             and (not q["group"] or q["group"] in r["groups"]) and (not q["state"] or r["state"] == q["state"])]
    placed = [r for r in shown if r["position"]]
    plot = []
    if placed:   # drawn by the page itself, no map tiles: north up, scaled to the clusters' own extent
        lats, lons = [r["position"][0] for r in placed], [r["position"][1] for r in placed]
        span = max(max(lats) - min(lats), max(lons) - min(lons)) or 1.0
        plot = [{"id": r["id"], "name": r["name"], "state": r["state"],
                 "x": round((r["position"][1] - min(lons)) / span * 100, 2),
                 "y": round((max(lats) - r["position"][0]) / span * 100, 2)} for r in placed]
    return dict(shown=shown, total=len(rows), plot=plot, query=q, groups=list(cfg.groups),
                villages=sorted({r["village"] for r in rows if r["village"]}), state_words=CLUSTER_STATES,
                status_word=status_word)


def _below(cfg, journal: Journal) -> dict[str, dict]:
    """At a hub, each zone a station below plays: its state from that station's own heartbeat (the
    deepest station that serves it), its last airing from the rows it sent up."""
    if not cfg.is_hub:
        return {}
    by_zone: dict[str, dict] = {}
    for st in _stations(cfg, journal):   # parents first, then the stations beneath them
        for z in st["zones"]:
            by_zone[z] = st
    out = {}
    for zid, z in cfg.zones.items():
        st = by_zone.get(zid)
        if not z.station or st is None:
            continue
        playing = any(isinstance(p, dict) and p.get("zone") == zid for p in st["playing"] or ())
        alerts = [str(a) for a in st["alerts"] or ()]
        last = journal.last_below(zid)
        out[zid] = {"state": "alert" if alerts else "playing" if playing else "idle" if st["online"] else "offline",
                    "last": last, "heard": heard_of(last.__dict__) if last else "", "alerts": alerts,
                    "station": st["path"], "seen": st["last_seen"]}
    return out


async def clusters(request: Request) -> Response:
    import asyncio
    return render(request, "clusters.html", **(await asyncio.to_thread(_clusters, request)))


ROUTES = [
    Page("/health", health, {"GET": PUBLIC}, 0),
    Page("/login", login, {"GET": PUBLIC, "POST": PUBLIC}),
    Page("/logout", logout, {"POST": "view"}),
    Page("/", overview, {"GET": "view"}),
    Page("/live", live, {"GET": "view"}),
    Page("/schedule", schedule, {"GET": "view"}),
    Page("/schedule/change", schedule_change, {"POST": "edit"}),
    Page("/clusters", clusters, {"GET": "view"}),
    Page("/log", log_page, {"GET": "view"}),
    Page("/log.csv", log_csv, {"GET": "view"}),
    Page("/report", report, {"GET": "view"}),
]
