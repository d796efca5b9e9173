"""Broadcast reports: what the schedule asked for against what the play log says was aired.

Pure: the configuration, the play log's rows and ``now`` come in as values; the
figures come out per bulletin × zone × day. Writing them as CSV, JSON or HTML is in
``report_formats``.

An airing the schedule asked for counts as *scheduled* once its time has passed
(and so does any airing the log holds for a slot, in case the schedule was edited
since). Its outcome is the log's: played, late, interrupted, missed, failed, or
playing right now; a past airing with no row at all (no daemon was running and none
started since) counts as missed. *Aired* is played + late + playing. A day whose
aired count falls short of its scheduled count is flagged short.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from broadcaster.config import Config
from broadcaster.records.playlog import Row
from broadcaster.config.schedule import airings

OUTCOMES = ("played", "late", "interrupted", "missed", "failed")
AIRED = ("played", "late", "playing")


@dataclass
class Cell:
    """The figures for one bulletin on one zone on one day."""
    day: date
    zone: str
    bulletin: str
    scheduled: int = 0
    upcoming: int = 0           # scheduled later than now: not counted yet
    on_request: int = 0         # aired with `broadcaster play`, outside the schedule
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES + ("playing",), 0))
    start_error_ms: float | None = None   # the largest measured start error of its airings
    confirmed: int = 0          # airings the zone's monitor heard in full (proof of air)
    unconfirmed: int = 0        # airings a monitor heard only in part, or not at all

    def note(self, r: Row | None) -> None:
        """What the airing's row adds: its start error, and what the monitor heard of it."""
        if r is not None and r.start_error_ms is not None:
            self.start_error_ms = max(self.start_error_ms or 0.0, abs(r.start_error_ms))
        if r is not None and r.heard in ("confirmed", "partial", "unheard"):
            if r.heard == "confirmed":
                self.confirmed += 1
            else:
                self.unconfirmed += 1

    @property
    def aired(self) -> int:
        return sum(self.counts[s] for s in AIRED)

    @property
    def short(self) -> bool:
        return self.aired < self.scheduled


@dataclass(frozen=True)
class Mark:
    """One airing on the timeline: when in the day, how long, how it went."""
    day: date
    zone: str
    bulletin: str
    start: float                # seconds after local midnight
    seconds: float
    status: str
    scheduled: bool


@dataclass
class Report:
    first: date
    last: date
    now: datetime
    timezone: str
    cells: list[Cell]
    marks: list[Mark]

    def totals(self) -> list[Cell]:
        """One cell per bulletin × zone for the whole period (day = the first day)."""
        out: dict[tuple, Cell] = {}
        for c in self.cells:
            t = out.setdefault((c.bulletin, c.zone), Cell(self.first, c.zone, c.bulletin))
            t.scheduled += c.scheduled
            t.upcoming += c.upcoming
            t.on_request += c.on_request
            for k, v in c.counts.items():
                t.counts[k] += v
            if c.start_error_ms is not None:
                t.start_error_ms = max(t.start_error_ms or 0.0, c.start_error_ms)
            t.confirmed += c.confirmed
            t.unconfirmed += c.unconfirmed
        return list(out.values())

    def short_days(self) -> list[Cell]:
        return [c for c in self.cells if c.short]


def build_report(cfg: Config, rows: list[Row], first: date, last: date, now: datetime, *,
                 zones: set[str] | None = None, bulletins: set[str] | None = None,
                 lengths: dict[str, float] | None = None) -> Report:
    """The figures for the days ``first``..``last`` (inclusive, local to the config's time zone)."""
    tz = ZoneInfo(cfg.timezone)
    start = datetime.combine(first, time(0), tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tz)
    lengths = lengths or {}

    def wanted(zone: str, bulletin: str | None) -> bool:
        return (zones is None or zone in zones) and (bulletins is None or bulletin in bulletins)

    cells: dict[tuple, Cell] = {}

    def cell(d: date, zone: str, bulletin: str) -> Cell:
        return cells.setdefault((d, zone, bulletin), Cell(d, zone, bulletin))

    logged: dict[tuple, Row] = {}
    extra: list[Row] = []
    for r in rows:
        if not wanted(r.zone, r.bulletin):
            continue
        t = datetime.fromisoformat(r.scheduled).astimezone(tz)
        if not start <= t < end:
            continue
        if r.slot is None:
            extra.append(r)
        else:
            logged[(r.slot, r.zone, t.timestamp())] = r

    marks: list[Mark] = []
    expected = [a for a in airings(cfg, start, end, zones=zones, lengths=lengths) if wanted(a.zone, a.bulletin)]
    keys = {(a.slot, a.zone, a.time.timestamp()): a for a in expected}
    resumed = _resumed_relays(expected, logged, keys)
    continuations = set(resumed.values())
    for key, r in logged.items():  # logged for a slot the schedule no longer has at that time
        if key not in keys and key not in continuations:
            keys[key] = None
    for key, a in keys.items():
        r = logged.get(key)
        t = datetime.fromtimestamp(key[2], tz)
        bulletin = a.bulletin if a else (r.bulletin or "?")
        c = cell(t.date(), key[1], bulletin)
        if r is None and t > now:
            c.upcoming += 1
            continue
        c.scheduled += 1
        status = r.status if r else "missed"
        if status == "interrupted" and key in resumed and logged[resumed[key]].status in AIRED:
            status = logged[resumed[key]].status   # a relay cut by an urgent airing went on after it
        c.counts[status] = c.counts.get(status, 0) + 1
        c.note(r)
        marks.append(_mark(t, key[1], bulletin, r, status, True, lengths))
    for r in extra:
        t = datetime.fromisoformat(r.scheduled).astimezone(tz)
        bulletin = r.bulletin or _audio_name(r.audio)
        c = cell(t.date(), r.zone, bulletin)
        if r.status in AIRED:
            c.on_request += 1
            c.note(r)
        marks.append(_mark(t, r.zone, bulletin, r, r.status, False, lengths))
    ordered = sorted(cells.values(), key=lambda c: (c.day, _order(cfg.zones, c.zone), c.bulletin))
    marks.sort(key=lambda m: (m.zone, m.day, m.start))
    return Report(first, last, now, cfg.timezone, ordered, marks)


def _resumed_relays(expected, logged: dict, keys: dict) -> dict[tuple, tuple]:
    """A relay's key → the key of the row that carried it on after an urgent airing cut it."""
    unscheduled: dict[tuple, list[tuple]] = {}
    for k in logged:
        if k not in keys:
            unscheduled.setdefault(k[:2], []).append(k)
    out = {}
    for a in expected:
        if a.relay:
            key = (a.slot, a.zone, a.time.timestamp())
            for k in unscheduled.get(key[:2], ()):
                if key[2] < k[2] < a.ends.timestamp():
                    out[key] = k
    return out


def _mark(t: datetime, zone: str, bulletin: str, r: Row | None, status: str, scheduled: bool,
          lengths: dict[str, float]) -> Mark:
    midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
    seconds = lengths.get(bulletin, 60.0)
    if r is not None and r.started and r.ended:
        seconds = max(1.0, (datetime.fromisoformat(r.ended) - datetime.fromisoformat(r.started)).total_seconds())
    return Mark(t.date(), zone, bulletin, (t - midnight).total_seconds(), seconds, status, scheduled)


def _audio_name(audio: str | None) -> str:
    from pathlib import PurePath
    return PurePath(audio).name if audio else "?"


def _order(zones: dict, zone: str) -> int:
    keys = list(zones)
    return keys.index(zone) if zone in keys else len(keys)


def combine(parts: list[Report], first: date, last: date, now: datetime, timezone: str) -> Report:
    """One report from reports on separate zones of the same days."""
    cells = sorted((c for p in parts for c in p.cells), key=lambda c: c.day)
    marks = [m for p in parts for m in p.marks]
    return Report(first, last, now, timezone, cells, marks)
