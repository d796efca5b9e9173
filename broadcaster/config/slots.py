"""The [zones.*], [[slots]] and [daemon] parts of schedule.toml, checked like the rest of it."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, time
from typing import Any

from broadcaster.config.calendar import dates_of
from broadcaster.config.model import PRIORITIES, Slot, Zone, day_in_range, out_of_range
from broadcaster.config.places import GROUP, PLACE_KEYS, expand_targets, zone_place
from broadcaster.config.schema import _Invalid, _Loader, _number, _show, _str, _suggest, _valid_id
from broadcaster.i18n import _


ZONE_KEYS = ("name", "device", "volume", "quiet", "station", "monitor", *PLACE_KEYS)
SLOT_KEYS = ("bulletin", "bulletins", "gap", "source", "zones", "at", "cron", "days", "start", "end", "priority",
             "duration", "until", "except", "weeks", "monthly")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?$")


def parse_time(text: str) -> time | None:
    m = _TIME.match(text.strip()) if isinstance(text, str) else None
    return time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)) if m else None


def parse_zones(ld: _Loader, data: dict) -> dict[str, Zone]:
    zones: dict[str, Zone] = {}
    for zid, z, key, section in ld.named_tables(data, "zones", "zone", ZONE_KEYS):
        values: dict[str, Any] = ld.checked(
            z, (("name", _str), ("device", _str), ("volume", _number(0.0, 1.0)), ("station", _station),
                ("monitor", _str)), key, section)
        if "quiet" in z:
            parts = z["quiet"].split("-") if isinstance(z["quiet"], str) else []
            times = [parse_time(p) for p in parts]
            if len(times) != 2 or None in times:
                ld.problem(key + ("quiet",), section,
                           _('quiet must be a time range like "22:00-05:00", not {value}', value=_show(z["quiet"])))
            else:
                values["quiet"] = (times[0], times[1])
        values.update(zone_place(ld, z, key, section))
        zones[zid] = Zone(zid, values.pop("name", zid), line=ld.index.line(*key), **values)
    return zones


def _station(v) -> str:
    if not isinstance(v, str) or not _valid_id(v):
        raise _Invalid(_("must be a station id (letters a-z, digits, '-' and '_'), not {value}", value=_show(v)))
    return v


def parse_duration(value) -> float | None:
    """Seconds from "30m", "90s", "1.5h", "30d" or a number of seconds; None if it is none of these."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if value >= 0 else None
    m = _DURATION.match(value.strip()) if isinstance(value, str) else None
    return float(m.group(1)) * {"s": 1, None: 1, "m": 60, "min": 60, "h": 3600, "d": 86400}[m.group(2)] if m else None


def parse_slots(ld: _Loader, data: dict, bulletins: dict, zones: dict[str, Zone], *, origin: str = "local",
                first: int = 0, sources: dict | None = None, groups: dict | None = None) -> list[Slot]:
    slots = []
    for i, s, key, section in ld.array_tables(data, "slots", SLOT_KEYS):
        slot = _slot(ld, s, i, key, section, bulletins, zones, sources or {}, groups or {})
        if slot is not None:
            slots.append(replace(slot, index=first + i, origin=origin))
    return slots


def _slot(ld: _Loader, s: dict, i: int, key: tuple, section: str, bulletins: dict,
          zones: dict[str, Zone], sources: dict, groups: dict) -> Slot | None:
    from apscheduler.triggers.cron import CronTrigger
    ok = True

    def bad(k: str, message: str) -> None:
        nonlocal ok
        ok = False
        ld.problem(key + (k,), section, message)

    bulletin = s.get("bulletin")
    relay = _relay(s, sources, bad)
    sequence = _sequence(s, bulletins, bad)
    if sequence:
        bulletin = sequence[0]
    if "source" in s:
        bulletin = relay.get("source")
    elif sequence or "bulletins" in s:
        pass
    elif not isinstance(bulletin, str):
        bad("bulletin", _('has no bulletin (add bulletin = "ID", one of the [bulletins.ID] tables)'))
    elif bulletin not in bulletins:
        bad("bulletin", _('bulletin "{bulletin}" is not defined{suggestion}', bulletin=bulletin,
                           suggestion=_suggest(bulletin, bulletins)))
    zone_ids: tuple[str, ...] = ()
    zv = s.get("zones")
    if zv == "*":   # this project's own zones (not those its hub's programme brings, which a slot may name)
        zone_ids = tuple(z for z, zone in zones.items() if zone.origin != "hub")
        if not zones:
            bad("zones", _('zones = "*" but no [zones.ID] tables are defined'))
    elif isinstance(zv, list) and zv and all(isinstance(z, str) for z in zv):
        zone_ids, unknown = expand_targets(zv, zones, groups)
        for z in unknown:
            if z.startswith(GROUP):
                bad("zones", _('group "{group}" is not defined{suggestion}', group=z[len(GROUP):],
                               suggestion=_suggest(z[len(GROUP):], groups)))
            else:
                bad("zones", _('zone "{zone}" is not defined{suggestion}', zone=z, suggestion=_suggest(z, zones)))
    else:
        bad("zones", _('zones must be a list of zone ids or "*", not {value}',
                       value=_show(zv) if zv is not None else _("missing")))
    at: tuple[time, ...] = ()
    if "at" in s and "cron" in s:
        bad("cron", _("has both at and cron: use one of them"))
    elif "at" in s:
        values = s["at"] if isinstance(s["at"], list) else [s["at"]]
        times = [parse_time(v) if isinstance(v, str) else None for v in values]
        if not values or None in times:
            wrong = next((v for v, t in zip(values, times) if t is None), s["at"])
            bad("at", _('at must be local times like "05:30" or "17:00:00", not {value}', value=_show(wrong)))
        at = tuple(sorted(set(t for t in times if t)))
    elif "cron" in s:
        try:
            if not isinstance(s["cron"], str) or len(s["cron"].split()) != 5:
                raise ValueError(_("it needs 5 fields: minute hour day month weekday"))
            CronTrigger.from_crontab(s["cron"])
        except ValueError as e:
            bad("cron", _('cron "{cron}" is not valid: {reason}', cron=s["cron"], reason=e))
    else:
        bad("at", _('has no time: add at = ["05:30", "17:00"] or cron = "0 7 * * *"'))
    days = s.get("days")
    if days is not None:
        if "cron" in s:
            bad("days", _("days goes with at; in a cron line the weekday is the fifth field"))
        else:
            try:
                CronTrigger(day_of_week=_str(days))
            except (_Invalid, ValueError) as e:
                bad("days", _('days {value} is not valid: {reason} (use e.g. "mon-fri" or "sat,sun")',
                             value=_show(days), reason=e))
    monthly = s.get("monthly")
    if monthly is not None:
        if "cron" in s or days is not None:
            bad("monthly", _('monthly names the day of the month ("2nd sun", "last fri", "15"): use it with at, '
                             'without days or cron'))
        else:
            try:
                if not isinstance(monthly, (str, int)) or isinstance(monthly, bool) or len(str(monthly)) > 40:
                    raise ValueError(_show(monthly))
                CronTrigger(day=str(monthly))
            except ValueError as e:
                bad("monthly", _('monthly {value} is not valid: {reason} (use e.g. "2nd sun", "last fri", "1st mon" '
                                 'or "15")', value=_show(monthly), reason=e))
    weeks = s.get("weeks", 1)
    if weeks != 1:
        if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= 52:
            bad("weeks", _("weeks must be a whole number from 1 to 52 (every N weeks), not {value}",
                           value=_show(weeks)))
        elif "start" not in s:
            bad("weeks", _("every {n} weeks counts from a first day: add start = 2026-12-07 (the first week it "
                           "plays)", n=weeks))
        elif "cron" in s or monthly is not None:
            bad("weeks", _("weeks goes with at and days (e.g. days = \"tue\", weeks = 2), not with cron or monthly"))
    dates = {}
    for k in ("start", "end"):
        if k in s:
            v = s[k]
            try:
                dates[k] = v if isinstance(v, date) and not hasattr(v, "hour") else date.fromisoformat(v)
            except (TypeError, ValueError):
                bad(k, _("{key} must be a date like 2020-08-05, not {value}", key=k, value=_show(v)))
                continue
            if not day_in_range(dates[k]):
                bad(k, out_of_range(k, dates.pop(k)))
    if "start" in dates and "end" in dates and dates["start"] > dates["end"]:
        bad("end", _("end {end} is before start {start} (the dates are reversed)", end=dates["end"], start=dates["start"]))
    priority = s.get("priority", "normal")
    if priority not in PRIORITIES:
        bad("priority", _("priority must be one of {options}, not {value}", options=", ".join(PRIORITIES),
                            value=_show(priority)))
    if not ok:
        return None
    exceptions = dates_of(ld, s["except"], key + ("except",), section, "except") if "except" in s else frozenset()
    return Slot(i, bulletin, zone_ids, at, s.get("cron"), days, dates.get("start"), dates.get("end"),
                priority, ld.index.line(*key), **relay, then=tuple(sequence[1:]), gap=_gap(s, bad),
                exceptions=exceptions, weeks=weeks, monthly=str(monthly) if monthly is not None else None)


def _sequence(s: dict, bulletins: dict, bad) -> list[str]:
    """``bulletins = ["tin-sang", "thong-bao"]``: the bulletins a slot plays one after the other."""
    if "bulletins" not in s:
        if "gap" in s:
            bad("gap", _('gap is for a sequence (bulletins = ["A", "B"]): the seconds between its bulletins'))
        return []
    value = s["bulletins"]
    if "bulletin" in s or "source" in s:
        bad("bulletins", _("has bulletins and also bulletin or source: a slot plays one bulletin, a sequence "
                           "(bulletins = [...]) or one source"))
        return []
    if not isinstance(value, list) or not value or not all(isinstance(b, str) for b in value):
        bad("bulletins", _('bulletins must be a list of bulletin ids like ["tin-sang", "thong-bao"], not {value}',
                           value=_show(value)))
        return []
    unknown = [b for b in value if b not in bulletins]
    for b in unknown:
        bad("bulletins", _('bulletin "{bulletin}" is not defined{suggestion}', bulletin=b,
                           suggestion=_suggest(b, bulletins)))
    return [] if unknown else list(value)


def _gap(s: dict, bad) -> float:
    if "gap" not in s or "bulletins" not in s:
        return 0.0
    seconds = parse_duration(s["gap"])
    if seconds is None or seconds > 600:
        bad("gap", _('gap must be seconds between the bulletins, like 2 or "1.5s" (at most 10 minutes), not {value}',
                     value=_show(s["gap"])))
        return 0.0
    return seconds


def _relay(s: dict, sources: dict, bad) -> dict:
    """A relay slot's source, duration and end; {} for a bulletin slot (or a wrong one, reported)."""
    if "source" not in s:
        for k in ("duration", "until"):
            if k in s:
                bad(k, _("{key} is for relay slots (with source = \"ID\"); a bulletin lasts as long as its audio",
                         key=k))
        return {}
    source = s["source"]
    if "bulletin" in s:
        bad("source", _("has both bulletin and source: a slot plays one bulletin or relays one source"))
        return {}
    if not isinstance(source, str) or source not in sources:
        bad("source", _('source {value} is not defined{suggestion}', value=_show(source),
                        suggestion=_suggest(source, sources) if isinstance(source, str) else ""))
        return {}
    if ("duration" in s) == ("until" in s):
        bad("duration", _('a relay slot needs duration = "30m" or until = "18:30" (one of them)'))
        return {}
    if "duration" in s:
        seconds = parse_duration(s["duration"])
        if seconds is None or not 1 <= seconds <= 24 * 3600:
            bad("duration", _('duration must be like "30m", "90s" or "1h" (at most 24 h), not {value}',
                              value=_show(s["duration"])))
            return {}
        return {"source": source, "duration": seconds}
    until = parse_time(s["until"]) if isinstance(s["until"], str) else None
    if until is None:
        bad("until", _('until must be a local time like "18:30", not {value}', value=_show(s["until"])))
        return {}
    return {"source": source, "until": until}


def parse_daemon(ld: _Loader, data: dict) -> float:
    table = ld.table(data, "daemon")
    ld.unknown_keys(table, ("grace",), ("daemon",), "daemon")
    g = table.get("grace", "10m")
    seconds = parse_duration(g)
    if seconds is None:
        ld.problem(("daemon", "grace"), "daemon", _('grace must be a duration like "10m" or "90s", not {value}',
                                                    value=_show(g)))
        return 600.0
    return seconds
