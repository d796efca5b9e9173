"""Exceptions to the schedule, as a commune officer says them: public holidays with no normal airings
(``[calendar] skip``), dates a slot does not play (its ``except``), and one airing moved or cancelled
without touching its slot (``[[changes]]``)::

    [calendar]
    skip = ["2026-09-02", "2027-01-01"]

    [[slots]]
    bulletin = "tin-sang"
    zones = "*"
    at = ["05:30"]
    except = ["2026-12-24"]

    [[changes]]                      # this Tuesday at 17:30 instead of 17:00
    bulletin = "thong-bao"
    at = 2026-12-08T17:00:00
    to = 2026-12-08T17:30:00

    [[changes]]                      # not today
    bulletin = "thong-bao"
    at = 2026-12-09T17:00:00
    cancel = true
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from broadcaster.config.model import day_in_range, out_of_range
from broadcaster.config.schema import _Loader, _show, _suggest
from broadcaster.i18n import _

CHANGE_KEYS = ("bulletin", "at", "to", "cancel", "zones")


@dataclass(frozen=True)
class Change:
    """One airing moved (``to``) or cancelled, found by its bulletin and its planned local time."""
    index: int
    bulletin: str
    at: datetime                  # local, naive: as written
    to: datetime | None = None    # local, naive
    zones: tuple[str, ...] = ()   # only these zones (default: every zone it airs on)
    line: int | None = None

    @property
    def cancel(self) -> bool:
        return self.to is None


def dates_of(ld: _Loader, value: Any, key: tuple, section: str, name: str) -> frozenset[date]:
    """A list of dates ("2026-09-02" or 2026-09-02), checked."""
    out = set()
    if not isinstance(value, list):
        ld.problem(key, section, _('{key} must be a list of dates like ["2026-09-02"], not {value}', key=name,
                                   value=_show(value)))
        return frozenset()
    for v in value:
        try:
            d = v if isinstance(v, date) and not isinstance(v, datetime) else date.fromisoformat(v)
        except (TypeError, ValueError):
            ld.problem(key, section, _("{key} must be a list of dates like 2026-09-02; {value} is not one", key=name,
                                       value=_show(v)))
            continue
        if day_in_range(d):
            out.add(d)
        else:
            ld.problem(key, section, out_of_range(name, d))
    return frozenset(out)


def parse_calendar(ld: _Loader, data: dict) -> frozenset[date]:
    table = ld.table(data, "calendar")
    ld.unknown_keys(table, ("skip",), ("calendar",), "calendar")
    return dates_of(ld, table["skip"], ("calendar", "skip"), "calendar", "skip") if "skip" in table else frozenset()


def _when(v: Any) -> datetime | None:
    """A date and time of a change (naive, the station's time), or None when it is not one in FIRST_DAY..LAST_DAY."""
    t = None
    if isinstance(v, datetime):
        t = v.replace(tzinfo=None, second=v.second, microsecond=0)
    elif isinstance(v, str):
        try:
            t = datetime.fromisoformat(v.strip()).replace(tzinfo=None)
        except ValueError:
            return None
    return t if t is not None and day_in_range(t.date()) else None


def parse_changes(ld: _Loader, data: dict, bulletins: dict, zones: dict) -> tuple[Change, ...]:
    out = []
    for i, c, key, section in ld.array_tables(data, "changes", CHANGE_KEYS):
        problems = len(ld.problems)
        b = c.get("bulletin")
        if not isinstance(b, str) or b not in bulletins:
            ld.problem(key + ("bulletin",), section, _('bulletin "{bulletin}" is not defined{suggestion}',
                                                       bulletin=b, suggestion=_suggest(str(b), bulletins)))
        at, to = _when(c.get("at")), _when(c.get("to")) if "to" in c else None
        if at is None:
            ld.problem(key + ("at",), section, _("at must be the airing's planned date and time, like "
                                                 "2026-12-08T17:00:00, not {value}", value=_show(c.get("at"))))
        if ("to" in c) == (c.get("cancel") is True):
            ld.problem(key, section, _("a change either moves the airing (to = 2026-12-08T17:30:00) or cancels it "
                                       "(cancel = true): one of them"))
        elif "to" in c and to is None:
            ld.problem(key + ("to",), section, _("to must be a date and time like 2026-12-08T17:30:00, not {value}",
                                                 value=_show(c["to"])))
        names = c.get("zones", [])
        if not isinstance(names, list) or any(z not in zones for z in names):
            ld.problem(key + ("zones",), section, _("zones must be a list of zone ids, not {value}",
                                                    value=_show(names)))
        if len(ld.problems) == problems:
            out.append(Change(i, b, at, to, tuple(names), ld.index.line(*key)))
    return tuple(out)


def local(t: datetime) -> datetime:
    """An aware local time as a changes table writes it (naive, to the second)."""
    return t.replace(tzinfo=None, microsecond=0)



def write_calendar(cfg, load, *, change: dict | None = None, holiday: date | None = None) -> None:
    """Add one ``[[changes]]`` entry (``change``: bulletin, at, and to or cancel, and zones) or one holiday to
    schedule.toml, keeping its comments and layout; the new file is loaded as ``check`` loads it (``load``)
    before it replaces the old one, so nothing is written when it fails (ConfigError)."""
    from broadcaster.fsutil import project_lock
    with project_lock(cfg.path):   # read, changed and replaced by one writer at a time
        _write_calendar(cfg, load, change, holiday)


def _write_calendar(cfg, load, change: dict | None, holiday: date | None) -> None:
    import tomllib
    from broadcaster.config.model import display_path
    from broadcaster.config.tomledit import TomlLines
    from broadcaster.errors import ConfigError
    from broadcaster.fsutil import atomic_path
    text = cfg.path.read_text(encoding="utf-8-sig")
    doc = TomlLines(text)
    if holiday is not None:
        days = [str(d) for d in tomllib.loads(text).get("calendar", {}).get("skip", [])]
        if holiday.isoformat() not in days:
            doc.set("calendar", "skip", [*days, holiday.isoformat()])
    if change is not None:
        doc.append("changes", {k: change[k] for k in ("bulletin", "at", "to", "cancel", "zones")
                               if change.get(k) not in (None, [], False)})
    with atomic_path(cfg.path) as tmp:
        tmp.write_text(doc.text(), encoding="utf-8")
        try:
            load(tmp)
        except ConfigError as e:
            raise ConfigError(e.problems[0].replace(display_path(tmp), display_path(cfg.path)),
                              problems=e.problems) from None
