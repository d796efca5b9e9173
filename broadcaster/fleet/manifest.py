"""A station's programme as its hub sends it: a signed manifest (its zones, the slots that play on
them, where each slot was first scheduled, and each bulletin's audio by SHA-256), checked before
anything of it is used."""

from __future__ import annotations

import json
import re
from datetime import date, datetime

from broadcaster.config import Config
from broadcaster.errors import RefusedError
from broadcaster.fleet.credentials import toml_string
from broadcaster.fleet.signing import check_format, verify
from broadcaster.i18n import _

KIND = "broadcaster-programme"
FORMAT = 1
_SHA = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")
_EXT = ("mp3", "wav", "flac", "ogg")
_MONTHLY = re.compile(r"^[0-9a-z ,-]{1,40}$")   # APScheduler's day field ("2nd sun", "last fri", "1,15")
MAX_BULLETINS = 10_000
MAX_DATES = 1_000     # exception dates of one slot
MAX_CHANGES = 10_000


SPREAD_PER_STATION = 0.02   # seconds of fetch spread per station: 1,000 stations fetch over 20 s, 20 over 0.4 s
MAX_SPREAD = 120.0


def build_manifest(cfg: Config, station: str, audio: dict[str, dict], version: int, published: str) -> dict:
    """The programme of ``station``: the hub's zones it plays, their slots (this hub's own and those its
    own hub sent down, each with the name of the hub that scheduled it) and the bulletins they name.
    ``audio`` maps a bulletin id to {"sha256", "size", "format", "duration"}."""
    me = cfg.fleet.name if cfg.fleet is not None else "hub"
    zones = {z: zone for z, zone in cfg.zones.items() if zone.station == station}
    slots, bulletins = [], {}
    for s in cfg.slots:
        mine = [z for z in s.zones if z in zones]
        if not mine:
            continue
        slot = {"zones": mine, "priority": s.priority, "from": me if s.origin == "local" else s.origin}
        if s.source:   # a relay: each station carries it from its own [sources.ID]
            slot["source"] = s.source
            if s.duration is not None:
                slot["duration"] = s.duration
            else:
                slot["until"] = s.until.strftime("%H:%M:%S")
        elif s.then:
            slot["bulletins"], slot["gap"] = list(s.sequence), s.gap
        else:
            slot["bulletin"] = s.bulletin
        if s.cron:
            slot["cron"] = s.cron
        else:
            slot["at"] = [t.strftime("%H:%M:%S") for t in s.at]
        if s.days:
            slot["days"] = s.days
        for k in ("start", "end"):
            if getattr(s, k):
                slot[k] = getattr(s, k).isoformat()
        if s.weeks != 1:
            slot["weeks"] = s.weeks
        if s.monthly:
            slot["monthly"] = s.monthly
        # the dates it does not play: its own exceptions and, for a normal slot, this hub's holidays
        held = s.exceptions | (cfg.skip if s.priority == "normal" else frozenset())
        if held:
            slot["except"] = sorted(d.isoformat() for d in held)
        slots.append(slot)
        for bid in s.sequence:
            b = cfg.bulletins[bid]
            bulletins[b.id] = {"title": b.title, **audio[b.id]}
    return {
        "kind": KIND, "format": FORMAT, "station": station, "by": me, "version": version, "published": published,
        "timezone": cfg.timezone,
        # stations fetch new audio at a random moment within this many seconds, so that a hub's
        # hundreds of stations do not all ask the server at once
        "spread": round(min(MAX_SPREAD, SPREAD_PER_STATION * len(cfg.stations())), 2),
        "zones": {z: {"name": zone.name, "volume": zone.volume,
                      **({"quiet": "-".join(t.strftime("%H:%M") for t in zone.quiet)} if zone.quiet else {})}
                  for z, zone in zones.items()},
        "bulletins": bulletins, "slots": slots,
        # single airings moved or cancelled ([[changes]]) of the bulletins this station plays, on its zones
        "changes": [{"bulletin": c.bulletin, "at": c.at.isoformat(), **({"to": c.to.isoformat()} if c.to else {}),
                     **({"zones": [z for z in c.zones if z in zones]} if c.zones else {})}
                    for c in cfg.changes if c.bulletin in bulletins
                    and (not c.zones or any(z in zones for z in c.zones))],
    }


def read_manifest(data: bytes, public: str, station: str, *, installed: int | None = None) -> dict:
    """The manifest in ``data``, verified: RefusedError for anything not exactly as this station's hub
    (key ``public``) signed it for this station, or older than the one installed (a replay)."""
    what = _("the programme")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RefusedError(_("{what} is not valid JSON (a truncated or damaged transfer)", what=what)) from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise RefusedError(_("{what} is not a broadcaster programme", what=what))
    verify(doc, public, what)
    check_format(doc, FORMAT, what)
    if doc.get("station") != station:
        raise RefusedError(_('{what} is for station "{theirs}", not this one ("{ours}")', what=what,
                             theirs=doc.get("station"), ours=station))
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RefusedError(_("{what} has no version", what=what))
    if installed is not None and version < installed:
        raise RefusedError(_("{what} is version {version}, older than the installed {installed} (sent again?)",
                             what=what, version=version, installed=installed))
    _check_shape(doc)
    return doc


def _check_shape(doc: dict) -> None:
    def bad(detail: str):
        raise RefusedError(_("the programme is malformed: {detail}", detail=detail))

    zones, bulletins, slots = doc.get("zones"), doc.get("bulletins"), doc.get("slots")
    if not isinstance(zones, dict) or not isinstance(bulletins, dict) or not isinstance(slots, list):
        bad("zones, bulletins, slots")
    if len(bulletins) > MAX_BULLETINS:
        bad("too many bulletins")
    spread = doc.get("spread", 0)
    if isinstance(spread, bool) or not isinstance(spread, (int, float)) or not 0 <= spread <= MAX_SPREAD:
        bad("spread")
    for z, zone in zones.items():
        if not _ID.match(z) or not isinstance(zone, dict) or not isinstance(zone.get("name"), str):
            bad(f"zone {z!r}")
    for b, info in bulletins.items():
        if (not _ID.match(b) or not isinstance(info, dict) or not _SHA.match(str(info.get("sha256")))
                or info.get("format") not in _EXT or not isinstance(info.get("size"), int)
                or not isinstance(info.get("title"), str)):
            bad(f"bulletin {b!r}")
    for s in slots:
        sequence = s.get("bulletins") if isinstance(s, dict) else None
        if sequence is not None and (not isinstance(sequence, list) or not sequence
                                     or any(not isinstance(b, str) or b not in bulletins for b in sequence)
                                     or isinstance(s.get("gap"), bool)
                                     or not isinstance(s.get("gap", 0), (int, float)) or not 0 <= s.get("gap", 0) <= 600):
            bad(f"slot {s!r}"[:200])
        if (not isinstance(s, dict) or (sequence is None and s.get("bulletin") not in bulletins)
                or not isinstance(s.get("zones"), list)
                or not s["zones"] or any(z not in zones for z in s["zones"])
                or not all(isinstance(t, str) and _TIME.match(t) for t in s.get("at", []))
                or ("at" not in s and not isinstance(s.get("cron"), str))):
            bad(f"slot {s!r}"[:200])
        for k in ("start", "end"):
            if k in s:
                try:
                    date.fromisoformat(s[k])
                except (TypeError, ValueError):
                    bad(f"slot {k} {s[k]!r}")
        if "from" in s and not (isinstance(s["from"], str) and _ID.match(s["from"])):
            bad(f"slot from {s['from']!r}"[:200])
        if "weeks" in s and (isinstance(s["weeks"], bool) or not isinstance(s["weeks"], int)
                             or not 1 <= s["weeks"] <= 52 or "start" not in s):
            bad(f"slot weeks {s['weeks']!r}"[:200])
        if "monthly" in s and not (isinstance(s["monthly"], str) and _MONTHLY.match(s["monthly"])):
            bad(f"slot monthly {s['monthly']!r}"[:200])
        if "except" in s and not (isinstance(s["except"], list) and len(s["except"]) <= MAX_DATES
                                  and all(_parses(date, d) for d in s["except"])):
            bad("slot except")
    changes = doc.get("changes", [])
    if not isinstance(changes, list) or len(changes) > MAX_CHANGES:
        bad("changes")
    for c in changes:
        if (not isinstance(c, dict) or set(c) - {"bulletin", "at", "to", "zones"} or c.get("bulletin") not in bulletins
                or not all(_parses(datetime, c.get(k)) for k in ("at", "to") if k in c or k == "at")
                or not isinstance(c.get("zones", []), list) or any(z not in zones for z in c.get("zones", []))):
            bad(f"change {c!r}"[:200])
    if "by" in doc and not (isinstance(doc["by"], str) and _ID.match(doc["by"])):
        bad("by")


def _parses(kind, value) -> bool:
    """Whether ``value`` is a date (``kind`` date) or a date and time (datetime) in ISO form."""
    try:
        return isinstance(value, str) and len(value) <= 32 and (kind is datetime or "T" not in value) \
            and kind.fromisoformat(value) is not None
    except ValueError:
        return False


def audio_name(info: dict) -> str:
    """The file a bulletin's audio is kept in on the station: its hash, so each is stored once."""
    return f"{info['sha256']}.{info['format']}"


def programme_toml(doc: dict) -> str:
    """The verified manifest in schedule.toml's own schema, for the station's configuration to merge."""
    by = doc.get("by", "hub")
    out = ["# The hub's programme for this station, installed by broadcaster after checking its",
           "# signature and every file's SHA-256. Do not edit: the next programme replaces it.",
           "[programme]", f"version = {doc['version']}", f"published = {toml_string(str(doc['published']))}",
           f"station = {toml_string(doc['station'])}", f"by = {toml_string(by)}",
           # who scheduled each slot below, in order: this hub or one above it (a province's slot passed down)
           f"origins = [{', '.join(toml_string(s.get('from', by)) for s in doc['slots'])}]",
           # the hub's slot times are in the hub's time zone, whatever the station's own is
           *([f"timezone = {toml_string(doc['timezone'])}"] if isinstance(doc.get("timezone"), str) else []), ""]
    for z, zone in doc["zones"].items():
        out += [f"[zones.{z}]", f"name = {toml_string(zone['name'])}", f"volume = {float(zone.get('volume', 1.0))}"]
        if zone.get("quiet"):
            out.append(f"quiet = {toml_string(zone['quiet'])}")
        out.append("")
    for b, info in doc["bulletins"].items():
        out += [f"[bulletins.{b}]", f"title = {toml_string(info['title'])}",
                f"file = {toml_string('audio/' + audio_name(info))}", ""]
    for s in doc["slots"]:
        what = ([f"bulletins = [{', '.join(toml_string(b) for b in s['bulletins'])}]", f"gap = {float(s.get('gap', 0))}"]
                if "bulletins" in s else [f"bulletin = {toml_string(s['bulletin'])}"])
        out += ["[[slots]]", *what,
                f"zones = [{', '.join(toml_string(z) for z in s['zones'])}]",
                f"priority = {toml_string(s.get('priority', 'normal'))}"]
        if "cron" in s:
            out.append(f"cron = {toml_string(s['cron'])}")
        else:
            out.append(f"at = [{', '.join(toml_string(t) for t in s['at'])}]")
        for k in ("days",):
            if k in s:
                out.append(f"{k} = {toml_string(s[k])}")
        for k in ("start", "end"):
            if k in s:
                out.append(f"{k} = {date.fromisoformat(s[k]).isoformat()}")
        if "weeks" in s:
            out.append(f"weeks = {int(s['weeks'])}")
        if "monthly" in s:
            out.append(f"monthly = {toml_string(s['monthly'])}")
        if s.get("except"):
            out.append(f"except = [{', '.join(date.fromisoformat(d).isoformat() for d in s['except'])}]")
        out.append("")
    for c in doc.get("changes", []):
        out += ["[[changes]]", f"bulletin = {toml_string(c['bulletin'])}",
                f"at = {datetime.fromisoformat(c['at']).isoformat()}",
                f"to = {datetime.fromisoformat(c['to']).isoformat()}" if "to" in c else "cancel = true"]
        if c.get("zones"):
            out.append(f"zones = [{', '.join(toml_string(z) for z in c['zones'])}]")
        out.append("")
    return "\n".join(out)


def changes(old: dict | None, new: dict) -> list[str]:
    """What a new programme changes, in a technician's words."""
    if old is None:
        return [_("first programme: {bulletins} bulletin(s), {slots} slot(s)", bulletins=len(new["bulletins"]),
                  slots=len(new["slots"]))]
    out = []
    ob, nb = old.get("bulletins", {}), new["bulletins"]
    for b in sorted(set(nb) - set(ob)):
        out.append(_("+ bulletin {bulletin}", bulletin=b))
    for b in sorted(set(ob) - set(nb)):
        out.append(_("- bulletin {bulletin}", bulletin=b))
    for b in sorted(set(ob) & set(nb)):
        if ob[b].get("sha256") != nb[b]["sha256"]:
            out.append(_("~ bulletin {bulletin}: new audio", bulletin=b))
    if old.get("slots") != new["slots"] or old.get("zones") != new["zones"]:
        out.append(_("~ slots: {old} → {new}", old=len(old.get("slots", [])), new=len(new["slots"])))
    return out


def same_programme(old: dict | None, new: dict) -> bool:
    """True when nothing but the version, date and signature differ."""
    if old is None:
        return False
    skip = ("version", "published", "signature")
    return {k: v for k, v in old.items() if k not in skip} == {k: v for k, v in new.items() if k not in skip}
