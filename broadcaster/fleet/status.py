"""The district's view of its stations: one row each, from their heartbeats and what was published."""

from __future__ import annotations

import json
import time

from broadcaster.config import Config

ONLINE_WITHIN = 15.0   # a heartbeat younger than this: the station is online


def station_rows(cfg: Config, states: dict[str, dict], published: dict[str, bytes | None],
                 received: dict[str, int], now: float | None = None) -> list[dict]:
    now = time.time() if now is None else now
    rows = []
    for s in cfg.stations():
        st = states.get(s) or {}
        try:
            pub = json.loads(published.get(s) or b"null")
        except ValueError:
            pub = None
        seen = st.get("time")
        rows.append({
            "station": s,
            "online": bool(seen and now - seen <= ONLINE_WITHIN),
            "last_seen": seen,
            "programme": st.get("programme"),
            "published": (pub or {}).get("version"),
            "playing": st.get("playing", []),
            "backlog": st.get("backlog"),
            "received": received.get(s, 0),
            "alerts": st.get("alerts", []),
            "software": st.get("software"),
            "zones": [z for z, zone in cfg.zones.items() if zone.station == s],
        })
    return rows


async def fleet_view(cfg: Config, journal, *, name: str, collect_first: bool = False) -> list[dict]:
    """Every station's row, from the message server (after taking the waiting play-log rows if asked)."""
    from broadcaster.fleet.client import Link
    from broadcaster.fleet.collect import collect
    from broadcaster.fleet.credentials import load_credentials
    link = Link(load_credentials(cfg))
    await link.connect(name=name)
    try:
        if collect_first:
            await link.ensure_layout(cfg.stations())
            await collect(link, journal)
        states = await link.states()
        published = {s: await link.manifest_of(s) for s in cfg.stations()}
    finally:
        await link.close()
    return station_rows(cfg, states, published, journal.station_counts())
