"""Play now (a bulletin or an uploaded recording, on chosen zones or stations, urgent after a
confirmation) and the accounts page."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from broadcaster.config import PRIORITY_WORDS
from broadcaster.dispatch.play import Ask, Refused, carry_out, route
from broadcaster.errors import BroadcasterError
from broadcaster.fleet.orders import DEFAULT_DEADLINE
from broadcaster.i18n import _
from broadcaster.records.accounts import ROLES, RIGHT_WORDS, RIGHTS, allowed_zones, parse_places
from broadcaster.records.playlog import Journal
from broadcaster.web.common import Page, address, chosen_zones, render, targets_within
from broadcaster.web.speak import end_talks_of
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
    lang = request.state.lang
    asked = chosen_zones(cfg, form)   # stations are sent to as stations (below)
    if form.get("all") == "1":
        asked += [z for z, zone in cfg.zones.items() if z in allowed and (z in served or zone.station)]
    priority = str(form.get("priority", "normal"))
    target = str(form.get("bulletin") or "")
    ask = Ask(target, zones=tuple(dict.fromkeys(asked)), stations=tuple(form.getlist("station")),
              priority=priority if priority in PRIORITY_WORDS else "normal")
    now = datetime.now(ZoneInfo(cfg.timezone))
    try:
        where = route(cfg, ask, served=served, at=now, user=user, lang=lang)
    except Refused as e:
        if e.audit:
            console.accounts.audit(user.name, address(request), "refused", e.audit)
        return render(request, "play.html", status_code=e.status, **{**context, "error": str(e)})
    upload = form.get("file")
    if upload is not None and getattr(upload, "filename", ""):
        target_path, error = await take_upload(cfg, upload, lang)
        if error:
            return render(request, "play.html", status_code=400, **{**context, "error": error})
        where = replace(where, target=str(target_path))
    elif target not in cfg.bulletins:
        return render(request, "play.html", status_code=400,
                      **{**context, "error": _("choose a bulletin or a file", lang)})
    places = list(where.places)
    if where.priority == "urgent" and form.get("confirmed") != "yes":
        return render(request, "play.html", **{**context, "confirm": {"target": where.target, "zones": list(ask.zones),
                                                                      "stations": list(ask.stations), "shown": places}})
    journal = Journal(cfg.paths.state)
    try:
        await carry_out(cfg, where, journal, now, now + DEFAULT_DEADLINE)
    except BroadcasterError as e:
        return render(request, "play.html", status_code=502, **{**context, "error": e.message})
    finally:
        journal.close()
    name = Path(where.target).name
    console.accounts.audit(user.name, address(request), "play",
                           (f"{name} to stations {', '.join(ask.stations)}" if ask.stations and not asked else
                            f"{name} on {', '.join(places)}") + f" ({where.priority})")
    return render(request, "play.html", **{**context, "done": {"target": name, "zones": places,
                                                               "priority": where.priority}})


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
            if action != "add" and end_talks_of(request.app, name):   # its voice is not on the air any more
                accounts.audit(request.state.user.name, address(request), "speak end", f"{name}: account changed")
            return RedirectResponse("/users", 303)
        except BroadcasterError as e:
            error = e.message
    return render(request, "users.html", users=accounts.users(), roles=ROLES, rights=RIGHTS, right_words=RIGHT_WORDS,
                  trail=accounts.trail(50), error=error, status_code=400 if error else 200)


ROUTES = [
    Page("/play", play, {"GET": "play", "POST": "play"}, MAX_UPLOAD + 1_000_000),
    Page("/users", users, {"GET": "users", "POST": "users"}),
]
