"""Emergencies as their own page: start an urgent broadcast (a bulletin or a recording; groups, zones or
stations; rounds or "until stopped"; a deadline), follow each cluster from sent to heard, stop it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from broadcaster.i18n import N_, _
from broadcaster.daemon import emergencies as em
from broadcaster.records.accounts import allowed_zones
from broadcaster.records.playlog import HEARD_WORDS, STATUS_WORDS, Journal
from broadcaster.web.common import Page, address, chosen_zones, render, targets_within
from broadcaster.web.uploads import MAX_UPLOAD, take_upload

STEP_WORDS = {"sent": N_("sent"), "received": N_("received"), "aired": N_("aired"), "heard": N_("heard")}
EMERGENCY_WORDS = {"active": N_("on the air"), "stopped": N_("stopped"), "done": N_("ended")}
REPEATS = (1, 2, 3, 5, 10, em.UNTIL_STOPPED)


def _journal(request: Request) -> Journal:
    return Journal(request.app.state.console.cfg().paths.state)


def _targets(cfg, user) -> dict:
    allowed = allowed_zones(user, cfg.zones, cfg.groups)
    return dict(**targets_within(cfg, allowed), stations=[] if user.places else cfg.stations(), allowed=allowed)


async def emergencies(request: Request) -> Response:
    console = request.app.state.console
    cfg = console.cfg()
    user = request.state.user
    lang = request.state.lang
    targets = _targets(cfg, user)
    journal = _journal(request)
    try:
        context = dict(items=em.listed(journal), words=EMERGENCY_WORDS, repeats=REPEATS, error=None,
                       **{k: v for k, v in targets.items() if k != "allowed"})
        if request.method == "GET":
            return render(request, "emergency.html", **context)
        f = await request.form()
        zones = chosen_zones(cfg, f, targets["stations"])
        outside = [z for z in zones if z not in targets["allowed"]]
        if outside or (user.places and f.getlist("station")):
            console.accounts.audit(user.name, address(request), "refused",
                                   f"emergency outside its places: {', '.join(outside)}")
            return render(request, "emergency.html", status_code=403, **{**context, "error": _(
                "{name} may play only on {places}", lang, name=user.name, places=", ".join(user.places))})

        def refuse(message: str, status: int = 400) -> Response:
            return render(request, "emergency.html", status_code=status, **{**context, "error": message})
        target = str(f.get("bulletin") or "")
        label = cfg.bulletins[target].title if target in cfg.bulletins else ""
        upload = f.get("file")
        if upload is not None and getattr(upload, "filename", ""):
            path, why = await take_upload(cfg, upload, lang)
            if why:
                return refuse(why)
            target, label = str(path), Path(upload.filename).name
        elif target not in cfg.bulletins:
            return refuse(_("choose a bulletin or a file", lang))
        if not zones:
            return refuse(_("choose at least one zone", lang))
        served = {z for _pid, zs in journal.live_daemons() for z in zs}
        if not journal.live_daemons():
            return refuse(_("no daemon runs on this PC: start broadcaster daemon first (it sends the rounds)", lang),
                          409)
        missing = [z for z in zones if z not in served and not cfg.zones[z].station]
        if missing:
            return refuse(_("no daemon serves {zones}: start broadcaster daemon on this PC first", lang,
                            zones=", ".join(missing)), 409)
        try:
            repeats = int(str(f.get("repeats", "1")))
            every = float(str(f.get("every", "5"))) * 60
            minutes = float(str(f.get("deadline", "60")))
        except ValueError:
            return refuse(_("rounds, minutes between them and the deadline are numbers", lang))
        if not 0 <= repeats <= em.MAX_REPEATS or not 0.5 <= every / 60 <= 24 * 60 or not 1 <= minutes <= 7 * 24 * 60:
            return refuse(_("rounds from 1 to {n} (or until stopped), 0.5 to 1440 minutes apart, a deadline of 1 "
                            "minute to 7 days", lang, n=em.MAX_REPEATS))
        now = datetime.now(ZoneInfo(cfg.timezone))
        eid = em.create(journal, by=user.name, target=target, label=label or target, zones=zones, priority="urgent",
                        repeats=repeats, every=every, deadline=now.timestamp() + minutes * 60, now=now)
    finally:
        journal.close()
    console.accounts.audit(user.name, address(request), "emergency", f"{eid}: {label or target} on "
                           f"{len(zones)} zone(s), {repeats or 'until stopped'} round(s)")
    return RedirectResponse(f"/emergency/{eid}", 303)


def _view(request: Request):
    """The emergency and its per-zone states, or None if there is none by that id (or it is outside the
    places of the account)."""
    cfg = request.app.state.console.cfg()
    journal = _journal(request)
    try:
        e = em.get(journal, request.path_params["eid"])
        if e is None:
            return None, None
        user = request.state.user
        if user.places and not set(e.zones) <= allowed_zones(user, cfg.zones, cfg.groups):
            return None, None
        return e, em.states(cfg, journal, e)
    finally:
        journal.close()


async def emergency(request: Request) -> Response:
    e, states = _view(request)
    if e is None:
        return PlainTextResponse(_("no such emergency", request.state.lang), 404)
    return render(request, "emergency_one.html", e=e, states=states, words=EMERGENCY_WORDS, steps=em.STEPS,
                  step_words=STEP_WORDS, status_words=STATUS_WORDS, heard_words=HEARD_WORDS,
                  counts=_counts(states))


def _counts(states: list[dict]) -> dict[str, int]:
    """How many zones reached each step (a zone that was heard was also sent, received and aired)."""
    reached = {s: 0 for s in em.STEPS}
    for st in states:
        if st["step"]:
            for s in em.STEPS[:em.STEPS.index(st["step"]) + 1]:
                reached[s] += 1
    return reached


async def emergency_state(request: Request) -> Response:
    e, states = _view(request)
    if e is None:
        return JSONResponse({"error": "no such emergency"}, 404)
    lang = request.state.lang
    return JSONResponse({"id": e.id, "status": e.status, "status_word": _(EMERGENCY_WORDS[e.status], lang),
                         "rounds": e.rounds, "repeats": e.repeats, "counts": _counts(states),
                         "zones": [{**st, "step_word": _(STEP_WORDS[st["step"]], lang) if st["step"] else "",
                                    "status_word": _(STATUS_WORDS[st["status"]], lang) if st["status"] in STATUS_WORDS
                                    else "", "heard_word": _(HEARD_WORDS[st["heard"]], lang)
                                    if st["heard"] in HEARD_WORDS else ""} for st in states]})


async def emergency_stop(request: Request) -> Response:
    e, _states = _view(request)
    if e is None:
        return PlainTextResponse(_("no such emergency", request.state.lang), 404)
    journal = _journal(request)
    try:
        stopped = em.stop(journal, e.id, request.state.user.name)
    finally:
        journal.close()
    if stopped:
        request.app.state.console.accounts.audit(request.state.user.name, address(request), "emergency stop",
                                                 str(e.id))
    return RedirectResponse(f"/emergency/{e.id}", 303)


ROUTES = [
    Page("/emergency", emergencies, {"GET": "play", "POST": "play"}, MAX_UPLOAD + 1_000_000),
    Page("/emergency/{eid:int}", emergency, {"GET": "play"}),
    Page("/emergency/{eid:int}/state", emergency_state, {"GET": "play"}),
    Page("/emergency/{eid:int}/stop", emergency_stop, {"POST": "play"}),
]
