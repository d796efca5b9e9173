"""One model of what each zone is doing now, for `status`, the console and the hub's view."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from broadcaster.config import Config
from broadcaster.i18n import _
from broadcaster.render.sidecar import durations
from broadcaster.records.alerts import AlertLog
from broadcaster.records.playlog import HEARD_WORDS, Journal, Row
from broadcaster.config.schedule import Airing, airings


@dataclass
class ZoneState:
    zone: str
    name: str
    origin: str
    served: bool                   # a daemon serves it
    playing: Row | None
    progress: float | None         # 0..1 of what is playing, when its length is known
    length: float | None
    coming: Airing | None
    last: Row | None
    device_problem: str | None
    alerts: list = field(default_factory=list)   # records.alerts.Alert: raised now


def zone_states(cfg: Config, journal: Journal, now: datetime) -> list[ZoneState]:
    daemons = journal.live_daemons()
    served = {z for _pid, zs in daemons for z in zs}
    playing_rows = {r.zone: r for r in journal.playing()}
    lengths = durations(cfg)
    coming = airings(cfg, now, now + timedelta(days=1), lengths=lengths)
    later = {a.zone for a in coming}
    if any(z not in later for z in cfg.zones):   # a zone with nothing today: look a week ahead for it
        coming += airings(cfg, now + timedelta(days=1), now + timedelta(days=7),
                          zones={z for z in cfg.zones if z not in later}, lengths=lengths)
    raised = AlertLog(journal).active()
    out = []
    for zid, z in cfg.zones.items():
        if z.station and cfg.is_hub:
            continue   # a station below plays it: the hub's view shows it with that station
        playing = playing_rows.get(zid)
        last = journal.last_of(zid)
        length = lengths.get(playing.bulletin) if playing and playing.bulletin else None
        if playing and length is None and playing.bulletin in cfg.sources:   # a relay: its slot's length
            length = _relay_length(cfg, playing)
        progress = None
        if playing and length and playing.started:
            progress = max(0.0, min(1.0, (now - datetime.fromisoformat(playing.started)).total_seconds() / length))
        out.append(ZoneState(zid, z.name, z.origin, zid in served, playing, progress, length,
                             next((a for a in coming if a.zone == zid), None), last,
                             journal.meta(f"device:{zid}"), [a for a in raised if a.zone == zid]))
    return out


def _relay_length(cfg, row) -> float | None:
    slot = next((s for s in cfg.slots if s.index == row.slot), None)
    if slot is None or slot.source is None:
        return None
    scheduled = datetime.fromisoformat(row.scheduled)
    return (slot.relay_end(scheduled) - scheduled).total_seconds()


def heard_of(r: dict) -> str:
    """What the zone's monitor heard of an airing (a row's fields): "confirmed, heard 840 ms later"; "" if
    the zone has no monitor."""
    if not r.get("heard"):
        return ""
    parts = [_(HEARD_WORDS.get(r["heard"], r["heard"]))]
    if r.get("heard_delay_ms") is not None and r["heard"] != "unheard":
        parts.append(_("heard {ms} ms later", ms=f"{r['heard_delay_ms']:.0f}"))
    if r.get("heard_note"):
        parts.append(r["heard_note"])
    return ", ".join(parts)
