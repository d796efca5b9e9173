"""The schedule model: which airings happen between two instants, on which zones.

Pure: ``now`` and the window are arguments; nothing here reads the clock. Fire
times come from APScheduler's own triggers, the same ones the daemon runs, so the
preview (`broadcaster next`) and the daemon never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from broadcaster.config import Config, Slot

PRIORITY_RANK = {"normal": 0, "priority": 1, "urgent": 2}


@dataclass(frozen=True, order=True)
class Airing:
    time: datetime
    zone: str
    bulletin: str
    priority: str
    slot: int           # index of the [[slots]] entry
    suppressed: bool = False  # falls in the zone's quiet hours: not played
    origin: str = "local"     # or the name of the hub that scheduled it (its programme)
    ends: datetime | None = None  # a relay: when it ends (``bulletin`` is then the source's id)
    follows: float | None = None  # in a sequence after the first: seconds after the one before it ends
    held: str | None = None       # why it does not play (suppressed): holiday, except, cancelled, moved
    moved_from: datetime | None = None   # a [[changes]] entry moved it here from this time

    @property
    def relay(self) -> bool:
        return self.ends is not None


def length_of(a: Airing, lengths: dict[str, float]) -> float | None:
    """Seconds an airing lasts: a relay's slot, a bulletin's rendered audio (None if not rendered)."""
    return (a.ends - a.time).total_seconds() if a.ends is not None else lengths.get(a.bulletin)


def slot_triggers(slot: Slot, tz: ZoneInfo) -> list[BaseTrigger]:
    """APScheduler triggers for one slot: one per ``at`` time, or the cron line."""
    bounds = {
        "start_date": datetime.combine(slot.start, time(0), tz) if slot.start else None,
        "end_date": datetime.combine(slot.end, time(23, 59, 59, 999999), tz) if slot.end else None,
        "timezone": tz,
    }
    if slot.cron:
        return [_crontab(slot.cron, bounds)]
    return [CronTrigger(hour=t.hour, minute=t.minute, second=t.second, day_of_week=slot.days, day=slot.monthly,
                        **bounds) for t in slot.at]


def _crontab(expr: str, bounds: dict) -> CronTrigger:
    # CronTrigger.from_crontab takes no start or end date: split the fields as it does
    minute, hour, day, month, day_of_week = expr.split()
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week, **bounds)


def fire_times(trigger: BaseTrigger, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time of ``trigger`` in [start, end), as the daemon's scheduler would compute it."""
    out: list[datetime] = []
    previous = None
    now = start
    while True:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None or fire >= end:
            return out
        out.append(fire)
        previous, now = fire, fire + timedelta(microseconds=1)


WEEK = timedelta(days=7)


def weekly_fire_times(trigger: BaseTrigger, start: datetime, end: datetime, last_day: date | None,
                      tz: ZoneInfo) -> list[datetime]:
    """``fire_times`` for a trigger that repeats every week (an ``at`` slot, or a cron line with no
    day-of-month or month field), asking the trigger for the first week only and repeating it:
    the same answer, several times faster, where the UTC offset does not change."""
    first = fire_times(trigger, start, min(end, start + WEEK))
    out = list(first)
    shift = WEEK
    while first and start + shift < end:
        for t in first:
            later = t + shift
            if later >= end or (last_day and later.astimezone(tz).date() > last_day):
                break
            out.append(later)
        shift += WEEK
    return sorted(t for t in out if t < end and not (last_day and t.astimezone(tz).date() > last_day))


def _steady(tz: ZoneInfo, start: datetime, end: datetime) -> bool:
    """Whether the zone's UTC offset stays the same from start to end (no daylight-saving change)."""
    offset = start.astimezone(tz).utcoffset()
    t = start
    while t < end:
        if t.astimezone(tz).utcoffset() != offset:
            return False
        t += timedelta(hours=6)
    return end.astimezone(tz).utcoffset() == offset


def sequence_offsets(slot: Slot, lengths: dict[str, float]) -> list[tuple[str, float]]:
    """(bulletin, seconds after the slot's time) for each bulletin a slot plays: one after the other,
    ``gap`` apart, by their rendered lengths (a bulletin not rendered yet counts as 0 s; at air time
    each one starts its gap after the one before really ends, whatever the plan said)."""
    if slot.source or not slot.then:
        return [(slot.bulletin, 0.0)]
    out, at = [], 0.0
    for b in slot.sequence:
        if out and at <= out[-1][1]:
            at = out[-1][1] + 0.001   # never two airings of one slot at one instant
        out.append((b, at))
        at += lengths.get(b, 0.0) + slot.gap
    return out


def _held(cfg: Config, slot: Slot, at: datetime, bulletin: str, zone: str, changes: dict) -> str | None:
    """Why an airing does not play on its planned time, from the calendar: None if it plays."""
    if at.date() in slot.exceptions:
        return "except"
    if slot.priority == "normal" and at.date() in cfg.skip:
        return "holiday"
    for c in changes.get((bulletin, at.replace(tzinfo=None, microsecond=0)), ()):
        if not c.zones or zone in c.zones:
            return "cancelled" if c.cancel else "moved"
    return None


def airings(cfg: Config, start: datetime, end: datetime, *, zones: set[str] | None = None,
            include_suppressed: bool = False, lengths: dict[str, float] | None = None,
            moves: bool = True) -> list[Airing]:
    """All airings in [start, end), in time order (then zone), for the given zones (default all).

    A sequence slot's bulletins are listed with the slot's firing time in the window, each at its
    planned offset (``sequence_offsets``, from ``lengths``). The calendar holds some back (listed as
    suppressed, with ``held`` saying why): holidays (``[calendar] skip``: normal airings), a slot's
    ``except`` dates, and airings a ``[[changes]]`` entry cancels or moves; a moved one is listed at its
    new time, in the window that holds that time."""
    tz = ZoneInfo(cfg.timezone)
    memo: dict[tuple, list[datetime]] = {}  # communes often share times: compute each trigger once
    steady = end - start > WEEK and _steady(tz, start, end)
    changes: dict[tuple, list] = {}
    for c in cfg.changes:
        changes.setdefault((c.bulletin, c.at), []).append(c)
    out: list[Airing] = []
    for slot in cfg.slots:
        targets = [z for z in slot.zones if zones is None or z in zones]
        if not targets:
            continue
        times: list[datetime] = []
        stz = ZoneInfo(slot.timezone) if slot.timezone else tz   # a hub's programme: the hub's clock
        weekly = (steady and slot.monthly is None
                  and (slot.cron is None or slot.cron.split()[2:4] == ["*", "*"])  # no day/month fields
                  and (slot.start is None or slot.start <= start.astimezone(stz).date())
                  and (stz is tz or _steady(stz, start, end)))
        for trig, key in zip(slot_triggers(slot, stz), _trigger_keys(slot)):
            if key not in memo:
                memo[key] = (weekly_fire_times(trig, start, end, slot.end, stz) if weekly
                             else fire_times(trig, start, end))
            times += memo[key]
        if slot.weeks != 1:
            times = [t for t in times if slot.on_week(t.astimezone(stz).date())]
        parts = sequence_offsets(slot, lengths or {})
        for t in times:
            local = t.astimezone(tz)
            for z in targets:
                quiet = slot.priority != "urgent" and cfg.zones[z].is_quiet(local.time())
                for k, (bulletin, offset) in enumerate(parts):
                    at = local + timedelta(seconds=offset) if offset else local
                    held = _held(cfg, slot, at, bulletin, z, changes) if (cfg.skip or changes or slot.exceptions) \
                        else None
                    if (quiet or held) and not include_suppressed:
                        continue
                    out.append(Airing(at, z, bulletin, slot.priority, slot.index, quiet or held is not None,
                                      slot.origin, slot.relay_end(local), slot.gap if k else None, held))
    if moves:
        out += _moved(cfg, tz, start, end, zones, lengths)
    out.sort(key=lambda a: (a.time, a.zone, -PRIORITY_RANK[a.priority], a.slot))
    return out


def _moved(cfg: Config, tz: ZoneInfo, start: datetime, end: datetime, zones: set[str] | None,
           lengths: dict[str, float] | None) -> list[Airing]:
    """The airings ``[[changes]]`` move into [start, end), at their new time."""
    out = []
    for c in cfg.changes:
        if c.to is None:
            continue
        to = c.to.replace(tzinfo=tz)
        if not start <= to < end:
            continue
        at = c.at.replace(tzinfo=tz)
        for a in airings(cfg, at, at + timedelta(seconds=1), zones=zones, include_suppressed=True, lengths=lengths,
                         moves=False):
            if a.bulletin == c.bulletin and a.held == "moved" and (not c.zones or a.zone in c.zones):
                quiet = a.priority != "urgent" and cfg.zones[a.zone].is_quiet(to.time())
                ends = to + (a.ends - a.time) if a.ends is not None else None
                out.append(replace(a, time=to, suppressed=quiet, held=None, moved_from=at, ends=ends))
    return out


def _trigger_keys(slot: Slot) -> list[tuple]:
    common = (slot.days, slot.monthly, slot.start, slot.end, slot.timezone)
    if slot.cron:
        return [("cron", slot.cron, slot.start, slot.end, slot.timezone)]
    return [("at", t, *common) for t in slot.at]


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tz)
    return start, start + timedelta(days=1)


def quiet_now(cfg: Config, zones, priority: str, at: datetime) -> list[str]:
    """The zones among ``zones`` in their quiet hours at ``at``, for an airing of ``priority`` (urgent
    plays through them), each as "zone (22:00-05:00)"."""
    if priority == "urgent":
        return []
    local = at.astimezone(ZoneInfo(cfg.timezone)).time() if at.tzinfo else at.time()
    return [f"{z} ({cfg.zones[z].quiet_hours()})" for z in zones if cfg.zones[z].is_quiet(local)]
