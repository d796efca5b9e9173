"""Messages from below, parsed once at the edge into typed records.

A hub takes play-log rows from every station beneath it. Each one is checked against its schema
here, before anything stores it: a message that does not parse (not JSON, too large, a field
missing or of the wrong type, a status nobody sends) is not raised into the consumer's loop but
returned as a ``Rejected`` with the reason, to be quarantined, counted and reported with the
station's name, while the other stations' rows go on arriving.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime

from broadcaster.config import PRIORITIES
from broadcaster.records.playlog import EXTRA_FIELDS, ROW_FIELDS, STATUS_WORDS

MAX_ROW_BYTES = 64_000      # a real row is under 2 KB; anything near this is not one
MAX_TEXT = 4_000            # characters of one text field (a reason, a note)
HEARD = (None, "confirmed", "partial", "unheard", "unchecked")
_PATH = re.compile(r"^[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64}){0,7}$")


@dataclass(frozen=True)
class Rejected:
    """A message from below that is not a valid row: kept aside with why."""
    station: str
    reason: str
    data: bytes


def _text(v, field: str, *, required: bool = False, limit: int = MAX_TEXT) -> str | None:
    if v is None and not required:
        return None
    if not isinstance(v, str) or (required and not v) or len(v) > limit:
        raise ValueError(f"{field} must be a text of at most {limit} characters")
    return v


def _int(v, field: str, *, required: bool = False) -> int | None:
    if v is None and not required:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not -2**62 < v < 2**62:
        raise ValueError(f"{field} must be a whole number")
    return v


def _number(v, field: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{field} must be a number")
    return float(v)


def _time(v, field: str, *, required: bool = False) -> str | None:
    v = _text(v, field, required=required, limit=64)
    if v is not None:
        try:
            t = datetime.fromisoformat(v)
        except ValueError:
            raise ValueError(f"{field} must be an ISO date and time") from None
        if t.tzinfo is None:
            raise ValueError(f"{field} must carry its UTC offset")
    return v


def _choice(v, field: str, options) -> str | None:
    if v not in options:
        raise ValueError(f"{field} must be one of {', '.join(o for o in options if o)}")
    return v


def parse_row(data: bytes, station: str) -> dict | Rejected:
    """A station's play-log row as the hub stores it (its station from the subject the server accepted
    it on, never from the row), or why it is not one. A row a hub below passes up from one of its own
    stations carries that station's ``path`` beneath the sender ("cum_1", or "x/cum_1" from deeper):
    it is stored as "sender/path", so no station can speak for anything outside its own subtree."""
    if len(data) > MAX_ROW_BYTES:
        return Rejected(station, f"{len(data)} bytes: larger than a row can be ({MAX_ROW_BYTES})", data[:512])
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return Rejected(station, "not JSON", data[:512])
    if not isinstance(raw, dict):
        return Rejected(station, "not a JSON object", data[:512])
    try:
        row = {
            "id": _int(raw.get("id"), "id", required=True),
            "version": _int(raw.get("version"), "version", required=True),
            "scheduled": _time(raw.get("scheduled"), "scheduled", required=True),
            "zone": _text(raw.get("zone"), "zone", required=True, limit=64),
            "bulletin": _text(raw.get("bulletin"), "bulletin", limit=200),
            "audio": _text(raw.get("audio"), "audio", limit=1000),
            "audio_sha256": _text(raw.get("audio_sha256"), "audio_sha256", limit=64),
            "priority": _choice(raw.get("priority"), "priority", PRIORITIES),
            "slot": _int(raw.get("slot"), "slot"),
            "request": _int(raw.get("request"), "request"),
            "started": _time(raw.get("started"), "started"),
            "ended": _time(raw.get("ended"), "ended"),
            "status": _choice(raw.get("status"), "status", tuple(STATUS_WORDS)),
            "reason": _text(raw.get("reason"), "reason"),
            "command": _text(raw.get("command"), "command", limit=200),
            "start_error_ms": _number(raw.get("start_error_ms"), "start_error_ms"),
            "relayed_s": _number(raw.get("relayed_s"), "relayed_s"),
            "fallback_s": _number(raw.get("fallback_s"), "fallback_s"),
            "heard": _choice(raw.get("heard"), "heard", HEARD),
            "heard_delay_ms": _number(raw.get("heard_delay_ms"), "heard_delay_ms"),
            "heard_score": _number(raw.get("heard_score"), "heard_score"),
            "heard_note": _text(raw.get("heard_note"), "heard_note"),
            "dropouts": _int(raw.get("dropouts"), "dropouts"),
        }
        path = _text(raw.get("path"), "path", limit=300)
        if path is not None and not _PATH.match(path):
            raise ValueError("path must be station ids joined by '/'")
    except ValueError as e:
        return Rejected(station, str(e), data[:512])
    assert set(row) == {"version", *ROW_FIELDS, *EXTRA_FIELDS}, "the schema and the play log disagree"
    row["station"] = f"{station}/{path}" if path else station
    return row
