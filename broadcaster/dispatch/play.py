"""Play this there now: where a `play`, the console's Phát ngay and ``POST /api/v1/play`` go, decided once.

A request names a target (a bulletin id or an audio file) and places: zones, groups, villages, whole
stations below this hub. ``route`` checks it against the rules that hold on every path (the places
exist, the caller may act on them, quiet hours, a daemon to play them) and says where each place
goes: this PC's daemons (the play log's request queue), straight to a zone's device (the CLI, where
no daemon serves the one zone it names), or a signed command to the stations below. ``carry_out``
does it. The command line, the pages and the API only read their inputs and show the answer, so a
rule added here holds for all of them; the daemon checks quiet hours again as it takes a request
(a command from the hub above comes that way too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from broadcaster.config import PRIORITIES, Config, display_path
from broadcaster.config.schedule import quiet_now
from broadcaster.errors import BroadcasterError
from broadcaster.i18n import _
from broadcaster.records.accounts import User, allowed_zones


class Refused(BroadcasterError):
    """A play that may not go ahead: ``status`` is the HTTP status the console and the API answer
    (400 a place that does not exist, 403 outside the caller's places, 409 not now: quiet hours, no
    daemon); ``audit`` is what the audit trail says of a refusal of rights."""

    def __init__(self, message: str, status: int, *, hint: str | None = None, audit: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status
        self.audit = audit
        self.exit_code = 1 if status == 409 else 2


@dataclass(frozen=True)
class Ask:
    """What was asked: a target, the places, the priority."""
    target: str
    zones: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    stations: tuple[str, ...] = ()       # whole stations below (with ``zone``: that zone of theirs)
    all_stations: bool = False
    zone: str | None = None              # with stations: only this zone of theirs
    priority: str = "normal"


@dataclass(frozen=True)
class Route:
    """Where it goes."""
    target: str
    priority: str
    here: tuple[str, ...] = ()           # zones this PC's daemons play: queued
    direct: str | None = None            # the one zone played straight on its device (no daemon serves it)
    stations: tuple[str, ...] = ()       # stations below sent a command
    zone: str | None = None              # with whole stations: only this zone of theirs
    below: tuple[str, ...] | None = None # the zones of theirs named (None: every zone of each, or ``zone``)

    @property
    def places(self) -> tuple[str, ...]:
        """Every zone it plays on, as named (whole stations by their id)."""
        return (*self.here, *((self.direct,) if self.direct else ()), *(self.below or self.stations))


@dataclass
class Outcome:
    requests: dict[int, str] = field(default_factory=dict)   # request id → zone, queued here
    sent: list = field(default_factory=list)                 # fleet.orders.Sent, one per station


def unknown(kind: str, names, cfg: Config, known=None, lang: str | None = None) -> str | None:
    """The message for the first of ``names`` (zones, bulletins, groups or stations) the config does not
    have, with the closest known one; None when all are known."""
    from difflib import get_close_matches
    if known is None:
        known = {"zone": cfg.zones, "group": cfg.groups, "station": cfg.stations()}.get(kind, cfg.bulletins)
    for n in names:
        if n not in known:
            close = get_close_matches(n, list(known), n=1)
            file = display_path(cfg.path)
            message = {"zone": _('no zone "{zone}" in {file}', lang, zone=n, file=file),
                       "station": _('no station "{station}" in {file}', lang, station=n, file=file),
                       "group": _('no group "{group}" in {file}', lang, group=n, file=file)}.get(
                kind, _('no bulletin "{bulletin}" in {file}', lang, bulletin=n, file=file))
            return message + (_(' (did you mean "{word}"?)', lang, word=close[0]) if close else "")
    return None


def route(cfg: Config, ask: Ask, *, served: set[str], at: datetime, user: User | None = None,
          direct: bool = False, lang: str | None = None) -> Route:
    """Where ``ask`` goes, or Refused saying why not.

    ``served``: the zones a daemon on this PC serves now; ``user``: the console's or the API's account,
    whose places limit it (None: the technician at the PC's command line, everywhere); ``direct``: a
    single zone no daemon serves may be played straight on its device (the command line waits for it);
    ``lang``: the language of the answer (None: the command line's)."""
    if ask.priority not in PRIORITIES:
        raise Refused(_("{priority} is not a priority; choose from {choices}", lang, priority=ask.priority,
                        choices=", ".join(PRIORITIES)), 400)
    for kind, names, known in (("zone", ask.zones, cfg.zones), ("group", ask.groups, cfg.groups),
                               ("station", ask.stations, cfg.stations())):
        if (message := unknown(kind, names, cfg, known, lang)) is not None:
            hint = {"zone": _("zones: {zones}", lang, zones=", ".join(cfg.zones)),
                    "group": _("groups: {groups}", lang, groups=", ".join(cfg.groups) or "-")}.get(kind)
            raise Refused(message, 400, hint=hint)
    if ask.zone is not None and (message := unknown("zone", (ask.zone,), cfg, lang=lang)) is not None:
        raise Refused(message, 400)
    stations = list(cfg.stations() if ask.all_stations else ask.stations)
    if (stations or ask.all_stations) and not cfg.is_hub:
        raise Refused(_("--station is for a hub's project (its [fleet] table, and zones that name a station)", lang),
                      400)
    chosen = list(dict.fromkeys([*ask.zones, *(z for g in ask.groups for z in cfg.groups[g])]))
    if user is not None and user.places:   # an account limited to some places: those zones, never whole stations
        allowed = allowed_zones(user, cfg.zones, cfg.groups)
        outside = [z for z in chosen if z not in allowed]
        if outside or stations:
            raise Refused(_("{name} may play only on {places}", lang, name=user.name, places=", ".join(user.places)),
                          403, audit="play outside its places: "
                          + ", ".join(outside or [f"station {s}" for s in stations]))
    if not chosen and not stations:
        raise Refused(_("choose at least one zone", lang), 400)
    # a zone a station below plays goes to that station; every other zone is this PC's
    below = [z for z in chosen if cfg.zones[z].station]
    here = [z for z in chosen if not cfg.zones[z].station]
    whole = [z for s in stations for z in cfg.zones_of(s) if ask.zone is None or z == ask.zone]
    quiet = quiet_now(cfg, [*here, *below, *whole], ask.priority, at)
    if quiet:
        raise Refused(_("{zones}: quiet hours now; only an urgent airing plays then", lang, zones=", ".join(quiet)),
                      409, hint=_("play it later, or as urgent if it cannot wait", lang))
    missing = [z for z in here if z not in served]
    play_direct = None
    if missing:
        if direct and len(here) == 1 and not below and not stations:
            play_direct, here = here[0], []
        else:
            raise Refused(_("no daemon serves {zones}: start broadcaster daemon on this PC first", lang,
                            zones=", ".join(missing)), 409)
    if below:
        stations = [*stations, *(s for s in dict.fromkeys(cfg.zones[z].station for z in below) if s not in stations)]
    return Route(target=ask.target, priority=ask.priority, here=tuple(here), direct=play_direct,
                 stations=tuple(stations), zone=ask.zone if not below else None,
                 below=tuple([*below, *whole]) if below else None)


async def carry_out(cfg: Config, where: Route, journal, now: datetime, deadline: datetime) -> Outcome:
    """Queue the zones here in ``journal`` and send the commands below (the direct zone is the caller's)."""
    out = Outcome()
    if where.stations:
        from broadcaster.fleet.orders import send_play
        out.sent = await send_play(cfg, where.target, stations=list(where.stations), zone=where.zone,
                                   priority=where.priority, now=now, deadline=deadline,
                                   zones=list(where.below) if where.below is not None else None)
    for z in where.here:
        out.requests[journal.add_request(where.target, z, where.priority, now)] = z
    return out
