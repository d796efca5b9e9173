"""A new announcement, as a commune officer says it: a title, a text, when (times, weekdays, from one
date to another, except some dates) and where (zones and groups), written into the project as a
script and a bulletin with its slot, keeping schedule.toml's comments and layout (config.tomledit).

Every field is checked first and answered per field (for the page and the API); then the whole new
schedule.toml is loaded as `check` loads it, beside the old one, before it takes its place. When
anything fails nothing is written: not the script, not the schedule.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from broadcaster.config.model import PRIORITIES, day_in_range, display_path, out_of_range
from broadcaster.config.places import GROUP
from broadcaster.config.schema import _valid_id
from broadcaster.engines import engine_names
from broadcaster.errors import ConfigError
from broadcaster.fsutil import atomic_path, atomic_write_bytes, project_lock
from broadcaster.i18n import _

MAX_TEXT = 200_000
RECORDINGS = "recordings"   # where announcements uploaded as recordings are kept, in the project
_TIME = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")   # HH:MM, or HH:MM:SS
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class Announcement:
    title: str
    text: str
    times: list[str]                       # "05:30", "17:00"
    zones: list[str]                       # zone ids and "group:NAME"
    days: list[str] = field(default_factory=list)   # mon … sun; empty: every day
    start: str | None = None               # YYYY-MM-DD
    end: str | None = None
    skip: list[str] = field(default_factory=list)   # dates it does not air
    priority: str = "normal"
    id: str | None = None                  # made from the title when not given
    once: str | None = None                # YYYY-MM-DD: only that day (times, days and dates are then ignored)
    weeks: int = 1                         # every N weeks, from the week of ``start``
    monthly: str | None = None             # "2nd sun", "last fri": that day of each month (instead of days)
    engine: str | None = None              # the voice: an engine name; None: the project's
    recording: Path | None = None          # an uploaded recording to air instead of a spoken text


class ComposeError(ConfigError):
    """The announcement cannot be saved; ``fields`` says why, per field."""

    def __init__(self, fields: dict[str, str]):
        first = next(iter(fields.items()))
        super().__init__(f"{first[0]}: {first[1]}", problems=[f"{k}: {v}" for k, v in fields.items()])
        self.fields = fields


def slug(title: str) -> str:
    """An id from a Vietnamese title: "Lịch tiêm phòng đợt 2" → "lich-tiem-phong-dot-2"."""
    plain = unicodedata.normalize("NFKD", title.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:48] or "thong-bao"


def _bad_day(text: str, key: str) -> str | None:
    """What is wrong with a date as a form or the API gives it (YYYY-MM-DD in FIRST_DAY..LAST_DAY), or None."""
    try:
        d = date.fromisoformat(text.strip())
    except ValueError:
        return _("give the date as YYYY-MM-DD, like 2026-12-08")
    return None if day_in_range(d) else out_of_range(key, d)


def check_fields(a: Announcement, cfg) -> dict[str, str]:
    """Per field, what is wrong (empty: nothing)."""
    bad: dict[str, str] = {}
    if not a.title.strip():
        bad["title"] = _("give the announcement a title")
    if a.recording is not None:
        if a.text.strip():
            bad["text"] = _("give a text to read or a recording, not both")
    elif not a.text.strip():
        bad["text"] = _("write the text to read, or upload a recording")
    elif len(a.text) > MAX_TEXT:
        bad["text"] = _("the text is longer than {n} characters", n=MAX_TEXT)
    aid = a.id or slug(a.title)
    if not _valid_id(aid):
        bad["id"] = _("an id may use only letters a-z, digits, '-' and '_'")
    elif aid in cfg.bulletins:
        bad["id"] = _('there is already a bulletin "{id}": choose another title or id', id=aid)
    if not a.times or not all(isinstance(t, str) and _TIME.match(t.strip()) for t in a.times):
        bad["times"] = _('times must be like "05:30" or "17:00"')
    if any(d not in DAYS for d in a.days):
        bad["days"] = _("days are mon, tue, wed, thu, fri, sat, sun")
    if a.once:
        if (why := _bad_day(a.once, "once")) is not None:
            bad["once"] = why
    elif a.monthly is not None:
        from apscheduler.triggers.cron import CronTrigger
        try:
            CronTrigger(day=a.monthly)
        except ValueError:
            bad["monthly"] = _('the day of the month is like "2nd sun" or "last fri"')
    if not a.once and (isinstance(a.weeks, bool) or not isinstance(a.weeks, int) or not 1 <= a.weeks <= 52):
        bad["weeks"] = _("every 1 to 52 weeks")
    elif not a.once and a.weeks != 1 and not a.start:
        bad["start"] = _("every {n} weeks: give the first day (the first week it plays)", n=a.weeks)
    if a.engine is not None and a.engine not in engine_names():
        bad["engine"] = _('"{name}" is not a known engine{suggestion} (choose from auto, {names})', name=a.engine,
                          suggestion="", names=", ".join(sorted(engine_names())))
    dates = {}
    for k in ("start", "end"):
        v = getattr(a, k)
        if v:
            if (why := _bad_day(v, k)) is not None:
                bad[k] = why
            else:
                dates[k] = date.fromisoformat(v)
    if "start" in dates and "end" in dates and dates["end"] < dates["start"]:
        bad["end"] = _("the last day is before the first")
    for d in a.skip:
        if (why := _bad_day(d, "except")) is not None:
            bad["skip"] = why
    if not a.zones:
        bad["zones"] = _("choose at least one zone or group")
    else:
        unknown = [z for z in a.zones if not (z[len(GROUP):] in cfg.groups if z.startswith(GROUP) else z in cfg.zones)]
        if unknown:
            bad["zones"] = _("{places}: no such zone or group (write zone ids, or group:NAME from [groups])",
                             places=", ".join(unknown))
    if a.priority not in PRIORITIES:
        bad["priority"] = _("priority must be one of {options}, not {value}", options=", ".join(PRIORITIES),
                            value=a.priority)
    return bad


def slot_table(a: Announcement, aid: str) -> dict:
    """The [[slots]] table of an announcement, as schedule.toml holds it."""
    slot: dict = {"bulletin": aid, "zones": list(dict.fromkeys(a.zones)),
                  "at": sorted({t.strip().zfill(8 if t.count(":") == 2 else 5) for t in a.times})}
    if a.once:
        slot["start"] = slot["end"] = date.fromisoformat(a.once)
    else:
        if a.monthly is not None:
            slot["monthly"] = a.monthly
        elif a.days and set(a.days) != set(DAYS):
            slot["days"] = ",".join(d for d in DAYS if d in a.days)
        for k in ("start", "end"):
            if getattr(a, k):
                slot[k] = date.fromisoformat(getattr(a, k))
        if a.weeks != 1 and a.monthly is None:
            slot["weeks"] = a.weeks
    if a.skip:
        slot["except"] = sorted({date.fromisoformat(d) for d in a.skip})
    if a.priority != "normal":
        slot["priority"] = a.priority
    return slot


def preview_slot(cfg, a: Announcement):
    """The slot the announcement would add, checked as schedule.toml's are (nothing is written): a
    ``Slot`` for the schedule to compute its airings, the project's holidays and groups applied."""
    from dataclasses import replace
    from broadcaster.config.schema import _Loader
    from broadcaster.config.slots import parse_slots
    from broadcaster.tomllines import LineIndex
    bad = check_fields(a, cfg)
    if bad:
        raise ComposeError(bad)
    aid = a.id or slug(a.title)
    ld = _Loader(cfg.path, LineIndex(""), cfg.allow_outside)
    slots = parse_slots(ld, {"slots": [slot_table(a, aid)]}, {aid: {}}, cfg.zones, groups=cfg.groups)
    if ld.problems:
        raise ComposeError({"schedule": ld.problems[0]})
    return replace(slots[0], index=len(cfg.slots))


def save_announcement(cfg, a: Announcement, load) -> str:
    """Write the script and the bulletin with its slot; the bulletin's id. ``load(path)`` loads a
    schedule.toml as the project does (raising ConfigError). ComposeError when anything is wrong.
    Under the project's lock, against schedule.toml as it is now (another writer may have changed it
    since ``cfg`` was read): two saves at once both land, or the second is told why not."""
    with project_lock(cfg.path):
        try:
            now = load(cfg.path)
        except ConfigError:
            now = cfg   # the file is broken now: checked against the last good one; the new file is loaded below
        return _save(now, a, load)


def _save(cfg, a: Announcement, load) -> str:
    from broadcaster.config.tomledit import TomlLines
    bad = check_fields(a, cfg)
    if bad:
        raise ComposeError(bad)
    aid = a.id or slug(a.title)
    script = (cfg.root / RECORDINGS / f"{aid}{a.recording.suffix.lower()}" if a.recording is not None
              else cfg.paths.scripts / f"{aid.replace('-', '_')}.txt")
    if script.exists():
        raise ComposeError({"id": _('{file} exists already: choose another title or id', file=script.name)})
    doc = TomlLines(cfg.path.read_text(encoding="utf-8-sig"))
    doc.add_table(f"bulletins.{aid}", {
        "title": a.title.strip(),
        "file" if a.recording is not None else "script":
            script.relative_to(cfg.root).as_posix() if script.is_relative_to(cfg.root) else str(script),
        "engine": a.engine or None}, after="bulletins.")
    doc.append("slots", slot_table(a, aid))
    if a.recording is not None:
        import shutil
        with atomic_path(script) as tmp:
            shutil.copyfile(a.recording, tmp)
    else:
        text = a.text.replace("\r\n", "\n")
        atomic_write_bytes(script, (text if text.endswith("\n") else text + "\n").encode("utf-8"))
    try:
        with atomic_path(cfg.path) as tmp:
            tmp.write_text(doc.text(), encoding="utf-8")
            try:
                load(tmp)
            except ConfigError as e:
                raise ComposeError({"schedule": e.problems[0].replace(display_path(tmp), display_path(cfg.path))}) \
                    from None
    except BaseException:
        script.unlink(missing_ok=True)   # nothing half-written: no script without its slot
        raise
    return aid
