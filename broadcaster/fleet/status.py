"""A hub's view of every station beneath it: one row each, from the heartbeats and what was published.

Its own stations are level 1; a station that is a hub too passes up its stations' heartbeats with its
own, so theirs are listed beneath it (level 2, and so on), each with the hub it belongs to."""

from __future__ import annotations

import json
import time
from zoneinfo import ZoneInfo

from broadcaster.config import Config
from broadcaster.fleet.names import HEARTBEAT_FORMAT
from broadcaster.i18n import _

ONLINE_WITHIN = 15.0   # a heartbeat younger than this: the station is online
LIVE_FRESH = 9.0       # a station says it plays a live voice only in a heartbeat younger than this (3 beats)


def station_rows(cfg: Config, states: dict[str, dict], published: dict[str, bytes | None],
                 received: dict[str, int], now: float | None = None) -> list[dict]:
    now = time.time() if now is None else now
    me = cfg.fleet.name if cfg.fleet is not None else "hub"
    rows: list[dict] = []

    def add(s: str, path: str, st: dict, hub: str, level: int, pub: dict | None, zones: list[str]) -> None:
        seen = st.get("time") if isinstance(st.get("time"), (int, float)) else None
        fmt = st.get("format", 1)
        if not isinstance(fmt, int) or fmt > HEARTBEAT_FORMAT:   # a newer station's: not misread, said
            st = {"software": st.get("software"), "alerts": [_("its heartbeat is of format {format}, newer than this "
                                                               "hub reads ({ours}): update broadcaster at this hub",
                                                               format=fmt, ours=HEARTBEAT_FORMAT)]}
        rows.append({
            "station": s, "path": path, "hub": hub, "level": level,
            "online": bool(seen and now - seen <= ONLINE_WITHIN),
            "last_seen": seen,
            "programme": st.get("programme"),
            "published": (pub or {}).get("version") if pub is not None else st.get("published"),
            "playing": st.get("playing", []),
            "backlog": st.get("backlog"),
            "received": received.get(path, 0),
            "alerts": st.get("alerts", []),
            "software": st.get("software"),
            "update": st.get("update") if isinstance(st.get("update"), dict) else {},
            "zones": zones,
        })
        below = st.get("stations")
        if isinstance(below, dict) and level < 8:
            for sub, sub_st in sorted(below.items()):
                if isinstance(sub_st, dict):
                    add(sub, f"{path}/{sub}", sub_st, s, level + 1, None,
                        [z for z in sub_st.get("zones", []) if isinstance(z, str)])

    for s in cfg.stations():
        try:
            pub = json.loads(published.get(s) or b"null")
        except ValueError:
            pub = None
        add(s, s, states.get(s) or {}, me, 1, pub or {}, cfg.zones_of(s))
    return rows


async def fleet_view(cfg: Config, journal, *, name: str, collect_first: bool = False) -> list[dict]:
    """Every station's row, from the message server (after taking the waiting play-log rows if asked)."""
    from broadcaster.fleet.client import Link
    from broadcaster.fleet.collect import Beneath, collect
    from broadcaster.fleet.credentials import hub_credentials
    link = Link(hub_credentials(cfg))
    await link.connect(name=name, forever=True)   # (a request is asked again while a cluster elects a leader)
    try:
        if collect_first:
            await link.ensure_layout(cfg.stations())
        heard = await link.states(cfg.stations())   # read once: for the rows' paths and for the view
        beneath = Beneath(cfg, lambda: heard)
        if collect_first:
            await collect(link, journal, beneath=beneath, tz=ZoneInfo(cfg.timezone))
        states = {s: beneath.prune(s, st) for s, st in heard.items()}
        published = {s: await link.manifest_of(s) for s in cfg.stations()}
    finally:
        await link.close()
    return station_rows(cfg, states, published, journal.station_counts())


def version_counts(rows: list[dict]) -> dict[str, dict[str, int]]:
    """Per hub (by name), how many of its stations run which version, from the stations' rows."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        hub = out.setdefault(r["hub"], {})
        hub[r.get("software") or "?"] = hub.get(r.get("software") or "?", 0) + 1
    return {h: dict(sorted(v.items())) for h, v in out.items()}


def live_on_air(cfg: Config, journal, zones: list[str], label: str) -> list[str]:
    """Those of ``zones`` that play the live voice ``label`` now: this PC's from its play log, a hub's
    stations' (at any depth) from their heartbeats on the server (none of theirs if it does not answer)."""
    import asyncio
    from broadcaster.errors import BroadcasterError
    on = {r.zone for r in journal.playing() if r.bulletin == label}
    if cfg.is_hub and set(zones) - on:
        async def states():
            from broadcaster.fleet.client import Link
            from broadcaster.fleet.credentials import hub_credentials
            link = Link(hub_credentials(cfg))
            await link.connect(name="broadcaster live")
            try:
                return await link.states(cfg.stations(), within=3.0)
            finally:
                await link.close()
        try:
            rows = station_rows(cfg, asyncio.run(states()), {}, {})
        except BroadcasterError:
            rows = []
        on |= playing_below(rows, label, time.time())
    return [z for z in zones if z in on]


def playing_below(rows: list[dict], label: str, now: float) -> set[str]:
    """The zones the stations' rows say play ``label``, from heartbeats of the last LIVE_FRESH seconds only:
    a station cut off is not on the air, whatever its last heartbeat said."""
    on: set[str] = set()
    for st in rows:
        if st["last_seen"] is None or now - st["last_seen"] > LIVE_FRESH:
            continue
        on |= {p.get("zone") for p in st["playing"] or () if isinstance(p, dict) and p.get("bulletin") == label}
    return on
