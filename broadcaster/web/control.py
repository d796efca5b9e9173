"""Play now (a bulletin or an uploaded recording, on chosen zones or stations, urgent after a
confirmation) and the accounts page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from broadcaster.config import PRIORITY_WORDS
from broadcaster.errors import BroadcasterError
from broadcaster.i18n import _
from broadcaster.records.accounts import ROLES, RIGHT_WORDS, RIGHTS, allowed_zones, parse_places
from broadcaster.records.playlog import Journal
from broadcaster.web.common import Page, address, chosen_zones, render, targets_within
from broadcaster.web.uploads import MAX_UPLOAD, take_upload


async def play(request: Request) -> Response:
    console = request.app.state.console
    cfg = console.cfg()
    journal = Journal(cfg.paths.state)
    try:
        served = {z for _pid, zs in journal.live_daemons() for z in zs}
    finally:
        journal.close()
    user = request.state.user
    allowed = allowed_zones(user, cfg.zones, cfg.groups)   # an account limited to some places sees only those
    context = dict(**targets_within(cfg, allowed), served=served,
                   priorities=PRIORITY_WORDS, error=None, done=None, confirm=None, chosen=None,
                   stations=cfg.stations() if cfg.is_hub and not user.places
                   else [])
    if request.method == "GET":   # from the overview: the bulletin chosen, all the zones ticked (Play is tap 2)
        chosen = request.query_params.get("bulletin")
        return render(request, "play.html", **{**context, "chosen": chosen if chosen in cfg.bulletins else None})
    form = await request.form()
    asked = chosen_zones(cfg, form)   # stations are sent to as stations (below)
    if form.get("all") == "1":
        asked += [z for z, zone in cfg.zones.items() if z in allowed and (z in served or zone.station)]
    outside = [z for z in dict.fromkeys(asked) if z not in allowed]
    if outside or (user.places and form.getlist("station")):
        console.accounts.audit(user.name, address(request), "refused", f"play outside its places: {', '.join(outside)}")
        return render(request, "play.html", status_code=403, **{**context, "error": _(
            "{name} may play only on {places}", request.state.lang, name=user.name, places=", ".join(user.places))})
    zones = list(dict.fromkeys(asked))
    stations = [s for s in form.getlist("station") if s in context["stations"]]
    priority = str(form.get("priority", "normal"))
    if priority not in PRIORITY_WORDS:
        priority = "normal"
    target = str(form.get("bulletin") or "")
    upload = form.get("file")
    lang = request.state.lang
    if upload is not None and getattr(upload, "filename", ""):
        target_path, error = await take_upload(cfg, upload, lang)
        if error:
            return render(request, "play.html", status_code=400, **{**context, "error": error})
        target = str(target_path)
    elif target not in cfg.bulletins:
        return render(request, "play.html", status_code=400, **{**context, "error": _("choose a bulletin or a file", lang)})
    if stations:
        return await _to_stations(request, context, cfg, target, stations, priority, form)
    if not zones:
        return render(request, "play.html", status_code=400, **{**context, "error": _("choose at least one zone", lang)})
    below = [z for z in zones if cfg.zones[z].station]   # played by a station below this hub (a cluster)
    missing = [z for z in zones if z not in served and z not in below]
    if missing:
        return render(request, "play.html", status_code=409, **{**context, "error": _(
            "no daemon serves {zones}: start broadcaster daemon on this PC first", lang, zones=", ".join(missing))})
    if priority == "urgent" and form.get("confirmed") != "yes":
        return render(request, "play.html", **{**context, "confirm": {"target": target, "zones": zones}})
    now = datetime.now(ZoneInfo(cfg.timezone))
    if below:   # a signed command to the stations that play them, as `play --group` sends
        from broadcaster.fleet.orders import DEFAULT_DEADLINE, send_play
        try:
            await send_play(cfg, target, stations=list(dict.fromkeys(cfg.zones[z].station for z in below)), zone=None,
                            priority=priority, now=now, deadline=now + DEFAULT_DEADLINE, zones=below)
        except BroadcasterError as e:
            return render(request, "play.html", status_code=502, **{**context, "error": e.message})
    journal = Journal(cfg.paths.state)
    try:
        for z in zones:
            if z not in below:
                journal.add_request(target, z, priority, now)
    finally:
        journal.close()
    console.accounts.audit(request.state.user.name, address(request), "play",
                           f"{Path(target).name} on {', '.join(zones)} ({priority})")
    return render(request, "play.html", **{**context, "done": {"target": Path(target).name, "zones": zones,
                                                               "priority": priority}})


async def _to_stations(request: Request, context: dict, cfg, target: str, stations: list[str], priority: str,
                       form) -> Response:
    """At a hub: a signed command to each chosen station below, as `play --station` sends."""
    from broadcaster.fleet.orders import DEFAULT_DEADLINE, send_play
    if priority == "urgent" and form.get("confirmed") != "yes":
        return render(request, "play.html", **{**context, "confirm": {"target": target, "zones": stations,
                                                                      "stations": stations}})
    try:
        now = datetime.now(ZoneInfo(cfg.timezone))
        await send_play(cfg, target, stations=stations, zone=None, priority=priority, now=now,
                        deadline=now + DEFAULT_DEADLINE)
    except BroadcasterError as e:
        return render(request, "play.html", status_code=502, **{**context, "error": e.message})
    request.app.state.console.accounts.audit(request.state.user.name, address(request), "play",
                                             f"{Path(target).name} to stations {', '.join(stations)} ({priority})")
    return render(request, "play.html", **{**context, "done": {"target": Path(target).name, "zones": stations,
                                                               "priority": priority}})


async def users(request: Request) -> Response:
    console = request.app.state.console
    accounts = console.accounts
    error = None
    if request.method == "POST":
        form = await request.form()
        action, name = str(form.get("action")), str(form.get("name", "")).strip().lower()
        try:
            cfg = console.cfg()
            if action == "add":
                accounts.add(name, str(form.get("role")), str(form.get("password", "")),
                             parse_places(str(form.get("places", "")), cfg.zones, cfg.groups))
            elif action == "places":
                accounts.set_places(name, parse_places(str(form.get("places", "")), cfg.zones, cfg.groups))
            elif action == "role":
                accounts.set_role(name, str(form.get("role")))
            elif action == "password":
                accounts.set_password(name, str(form.get("password", "")))
            elif action == "remove":
                if name == request.state.user.name:
                    raise BroadcasterError(_("you cannot remove your own account", request.state.lang))
                accounts.remove(name)
            accounts.audit(request.state.user.name, address(request), f"user {action}", name)
            return RedirectResponse("/users", 303)
        except BroadcasterError as e:
            error = e.message
    return render(request, "users.html", users=accounts.users(), roles=ROLES, rights=RIGHTS, right_words=RIGHT_WORDS,
                  trail=accounts.trail(50), error=error, status_code=400 if error else 200)


ROUTES = [
    Page("/play", play, {"GET": "play", "POST": "play"}, MAX_UPLOAD + 1_000_000),
    Page("/users", users, {"GET": "users", "POST": "users"}),
]
