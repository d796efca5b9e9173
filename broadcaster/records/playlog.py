"""The play log (the journal of every airing) and the request queue for `play`, in SQLite.

Written through ``records.db`` (WAL with synchronous=FULL: a committed row
survives a power cut). A scheduled airing's row is written when it *starts* and
completed when it ends; (slot, zone, scheduled) is unique, so an airing is aired
at most once, and a row left 'playing' by a killed daemon is marked interrupted
at the next start.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from broadcaster.records.emergency_tables import EMERGENCY_TABLES
from broadcaster.records.db import Database, Duplicate, StoreError
from broadcaster.i18n import N_, _

DB_NAME = "playlog.sqlite3"
STATUSES = ("playing", "played", "late", "interrupted", "missed", "failed")
STATUS_WORDS = {"playing": N_("playing"), "played": N_("played"), "late": N_("late"),
                "interrupted": N_("interrupted"), "missed": N_("missed"), "failed": N_("failed")}
HEARD_WORDS = {"confirmed": N_("confirmed"), "partial": N_("partly heard"), "unheard": N_("not heard"),
               "unchecked": N_("not checked")}   # what the zone's monitor heard of an airing (proof of air)
REQUEST_WORDS = {"done": N_("played"), "failed": N_("failed"), "interrupted": N_("interrupted"),
                 "missing": N_("the request is no longer in the play log")}

# an airing's columns after its first ones, in both tables (a hub keeps its stations' rows as they are)
ADDED_COLUMNS = (("command", "TEXT"), ("start_error_ms", "REAL"), ("relayed_s", "REAL"), ("fallback_s", "REAL"),
                 ("heard", "TEXT"), ("heard_delay_ms", "REAL"), ("heard_score", "REAL"), ("heard_note", "TEXT"),
                 ("dropouts", "INTEGER"))

SCHEMA = """
CREATE TABLE IF NOT EXISTS airings (
    id INTEGER PRIMARY KEY,
    scheduled TEXT NOT NULL,
    scheduled_ts REAL NOT NULL,
    zone TEXT NOT NULL,
    bulletin TEXT,
    audio TEXT,
    audio_sha256 TEXT,
    priority TEXT NOT NULL DEFAULT 'normal',
    slot INTEGER,
    request INTEGER,
    started TEXT,
    ended TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    sent INTEGER NOT NULL DEFAULT 0,
{added},
    UNIQUE (slot, zone, scheduled_ts)
);
CREATE INDEX IF NOT EXISTS airings_time ON airings (scheduled_ts);
CREATE INDEX IF NOT EXISTS airings_zone_time ON airings (zone, scheduled_ts);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    target TEXT NOT NULL,
    zone TEXT NOT NULL,
    priority TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    reason TEXT,
    airing INTEGER,
    command TEXT,
    label TEXT
);
CREATE TABLE IF NOT EXISTS daemons (
    pid INTEGER PRIMARY KEY,
    zones TEXT NOT NULL,
    started TEXT NOT NULL,
    heartbeat REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS station_airings (
    station TEXT NOT NULL,
    id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    scheduled TEXT NOT NULL,
    scheduled_ts REAL NOT NULL,
    zone TEXT NOT NULL,
    bulletin TEXT,
    audio TEXT,
    audio_sha256 TEXT,
    priority TEXT NOT NULL,
    slot INTEGER,
    request INTEGER,
    started TEXT,
    ended TEXT,
    status TEXT NOT NULL,
    reason TEXT,
{added},
    received TEXT NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (station, id)
);
CREATE INDEX IF NOT EXISTS station_airings_time ON station_airings (scheduled_ts);
CREATE INDEX IF NOT EXISTS station_airings_zone ON station_airings (zone, scheduled_ts);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    zone TEXT NOT NULL,
    kind TEXT NOT NULL,
    since TEXT NOT NULL,
    until TEXT,
    detail TEXT,
    cleared TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    posted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (zone, kind, until);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL,
    received TEXT NOT NULL,
    reason TEXT NOT NULL,
    data BLOB
);
""".replace("{added}", ",\n".join(f"    {c} {d}" for c, d in ADDED_COLUMNS)) + EMERGENCY_TABLES
# columns added since the first play logs: (table, column, definition)
MIGRATIONS = (("airings", "version", "INTEGER NOT NULL DEFAULT 1"), ("airings", "sent", "INTEGER NOT NULL DEFAULT 0"),
              ("requests", "command", "TEXT"), ("requests", "label", "TEXT"),
              ("station_airings", "sent", "INTEGER NOT NULL DEFAULT 0"),
              *((t, c, d) for t in ("airings", "station_airings") for c, d in ADDED_COLUMNS))
ROW_FIELDS = ("id", "scheduled", "zone", "bulletin", "audio", "audio_sha256", "priority", "slot", "request",
              "started", "ended", "status", "reason")
EXTRA_FIELDS = tuple(c for c, _d in ADDED_COLUMNS)
SELECT_ROW = f"SELECT {', '.join(ROW_FIELDS + EXTRA_FIELDS)}"   # a Row's columns (without its station)


JournalError = StoreError   # the play log's errors are the database's


@dataclass(frozen=True)
class Row:
    id: int
    scheduled: str
    zone: str
    bulletin: str | None
    audio: str | None
    audio_sha256: str | None
    priority: str
    slot: int | None
    request: int | None
    started: str | None
    ended: str | None
    status: str
    reason: str | None
    command: str | None = None
    start_error_ms: float | None = None  # the first sample's measured time out, minus when it was due
    relayed_s: float | None = None       # a relay: seconds of the source on the air
    fallback_s: float | None = None      # a relay: seconds of fallback (or silence) while the source was down
    heard: str | None = None             # proof of air: confirmed, partial, unheard, unchecked (None: no monitor)
    heard_delay_ms: float | None = None  # how much later the monitor heard it than it was sent
    heard_score: float | None = None     # how well what was heard matched what was sent (-1..1)
    heard_note: str | None = None        # where sound stopped, or why it could not be checked
    dropouts: int | None = None          # times the sound card ran out of audio while it played (0: none)
    station: str | None = None     # at a hub: the station that aired it


class Journal:
    """One connection, shared by the daemon's threads under a lock."""

    def __init__(self, state: Path):
        self.path = state / DB_NAME
        self.store = Database(self.path, SCHEMA, MIGRATIONS, what=_("the play log"))
        # the stations' rows a hub has yet to pass up (its column may be newer than the file)
        self.store.write("CREATE INDEX IF NOT EXISTS station_airings_unsent ON station_airings (scheduled_ts) "
                         "WHERE sent < version")

    def close(self) -> None:
        self.store.close()

    # --- airings -------------------------------------------------------------

    def start(self, *, scheduled: datetime, zone: str, bulletin: str | None, audio: str | None,
              audio_sha256: str | None, priority: str, slot: int | None, request: int | None,
              started: datetime, command: str | None = None) -> int | None:
        """Record that an airing starts; None if this scheduled airing already has a row."""
        try:
            cur = self.store.write(
                "INSERT INTO airings (scheduled, scheduled_ts, zone, bulletin, audio, audio_sha256, priority,"
                " slot, request, started, status, command) VALUES (?,?,?,?,?,?,?,?,?,?, 'playing', ?)",
                (scheduled.isoformat(timespec="milliseconds"), scheduled.timestamp(), zone, bulletin, audio,
                 audio_sha256, priority, slot, request, started.isoformat(timespec="milliseconds"), command))
        except Duplicate:
            return None
        return cur.lastrowid

    def measured_start(self, row: int, started: datetime, error_ms: float) -> None:
        """The time the first sample actually left the sound card, and how far that was from due."""
        self.store.write("UPDATE airings SET started=?, start_error_ms=?, version=version+1 WHERE id=?",
                         (started.isoformat(timespec="milliseconds"), round(error_ms, 1), row))

    def finish(self, row: int, status: str, ended: datetime, reason: str | None = None, *,
               relayed_s: float | None = None, fallback_s: float | None = None, dropouts: int | None = None) -> None:
        self.store.write("UPDATE airings SET status=?, ended=?, reason=?, relayed_s=?, fallback_s=?, dropouts=?,"
                         " version=version+1 WHERE id=?",
                         (status, ended.isoformat(timespec="milliseconds"), reason,
                          None if relayed_s is None else round(relayed_s, 1),
                          None if fallback_s is None else round(fallback_s, 1), dropouts, row))

    def heard(self, row: int, verdict: str, delay_ms: float | None, score: float | None, note: str | None) -> None:
        """What the zone's monitor heard of an airing (proof of air), once it is over."""
        self.store.write("UPDATE airings SET heard=?, heard_delay_ms=?, heard_score=?, heard_note=?,"
                         " version=version+1 WHERE id=?", (verdict, delay_ms, score, note, row))

    def record(self, *, scheduled: datetime, zone: str, bulletin: str | None, priority: str, slot: int | None,
               status: str, reason: str, request: int | None = None, audio: str | None = None,
               command: str | None = None) -> int | None:
        """A row for an airing that did not play (missed, failed); None if it already has one."""
        try:
            cur = self.store.write(
                "INSERT INTO airings (scheduled, scheduled_ts, zone, bulletin, audio, priority, slot, request,"
                " status, reason, command) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (scheduled.isoformat(timespec="milliseconds"), scheduled.timestamp(), zone, bulletin, audio,
                 priority, slot, request, status, reason, command))
        except Duplicate:
            return None
        return cur.lastrowid

    def forget_missed(self, after: float, reason_prefix: str) -> int:
        """Take back 'missed' rows from ``after`` on whose reason starts so (the clock was wrong)."""
        cur = self.store.write("DELETE FROM airings WHERE status='missed' AND scheduled_ts >= ? AND reason LIKE ?",
                          (after, reason_prefix.replace("%", "") + "%"))
        return cur.rowcount

    def has(self, slot: int | None, zone: str, scheduled: datetime) -> bool:
        return self.store.one("SELECT 1 FROM airings WHERE slot IS ? AND zone=? AND scheduled_ts=?",
                              (slot, zone, scheduled.timestamp())) is not None

    def recover(self, now: datetime) -> int:
        """Rows a killed daemon left 'playing' become interrupted. Returns how many."""
        cur = self.store.write("UPDATE airings SET status='interrupted', ended=?, reason=?, version=version+1"
                          " WHERE status='playing'",
                          (now.isoformat(timespec="milliseconds"),
                           _("the daemon stopped during the airing (power cut or killed)")))
        return cur.rowcount

    def rows(self, *, since: float | None = None, until: float | None = None, zone: str | None = None,
             status: str | None = None, newest: int | None = None) -> list[Row]:
        """Airings in time order; with ``newest`` only the last so many (still in time order)."""
        where, args = self._where(since, until, zone, status)
        sql = f"{SELECT_ROW} FROM airings{where}"
        if newest is not None:
            rs = self.store.read(sql + " ORDER BY scheduled_ts DESC, zone DESC, id DESC LIMIT ?", (*args, newest))
            return [Row(*r) for r in reversed(rs)]
        return [Row(*r) for r in self.store.read(sql + " ORDER BY scheduled_ts, zone, id", args)]

    def count(self, *, since: float | None = None, until: float | None = None, zone: str | None = None,
              status: str | None = None) -> int:
        where, args = self._where(since, until, zone, status)
        return self.store.one(f"SELECT count(*) FROM airings{where}", args)[0]

    @staticmethod
    def _where(since, until, zone, status, station=None) -> tuple[str, list]:
        conds, args = [], []
        for cond, value in (("scheduled_ts >= ?", since), ("scheduled_ts < ?", until), ("zone = ?", zone),
                            ("status = ?", status), ("station = ?", station)):
            if value is not None:
                conds.append(cond)
                args.append(value)
        return (" WHERE " + " AND ".join(conds) if conds else ""), args

    def last_of(self, zone: str) -> Row | None:
        """A zone's latest airing that is over (not playing)."""
        r = self.store.one(f"{SELECT_ROW} FROM airings WHERE zone=? AND status != 'playing'"
                           " ORDER BY scheduled_ts DESC, id DESC LIMIT 1", (zone,))
        return Row(*r) if r else None

    # --- liveness and the downtime window -----------------------------------

    def set_meta(self, key: str, value: str) -> None:
        self.store.write("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (key, value))

    def meta(self, key: str) -> str | None:
        r = self.store.one("SELECT value FROM meta WHERE key=?", (key,))
        return r[0] if r else None

    def register_daemon(self, pid: int, zones: list[str], started: datetime) -> None:
        self.store.write("INSERT OR REPLACE INTO daemons (pid, zones, started, heartbeat) VALUES (?,?,?,?)",
                    (pid, json.dumps(zones), started.isoformat(timespec="seconds"), time.time()))

    def heartbeat(self, pid: int, now: datetime) -> None:
        self.store.write("UPDATE daemons SET heartbeat=? WHERE pid=?", (time.time(), pid))
        self.set_meta("last_seen", now.isoformat(timespec="milliseconds"))

    def unregister_daemon(self, pid: int) -> None:
        self.store.write("DELETE FROM daemons WHERE pid=?", (pid,))

    def live_daemons(self, max_age: float = 10.0) -> list[tuple[int, list[str]]]:
        rows = self.store.read("SELECT pid, zones FROM daemons WHERE heartbeat >= ?", (time.time() - max_age,))
        return [(pid, json.loads(z)) for pid, z in rows]

    # --- requests from `broadcaster play` ------------------------------------

    def add_request(self, target: str, zone: str, priority: str, now: datetime, command: str | None = None,
                    label: str | None = None) -> int:
        """A `play` request; ``label`` names an audio file in the log (the hub's bulletin id)."""
        cur = self.store.write("INSERT INTO requests (created, target, zone, priority, command, label)"
                          " VALUES (?,?,?,?,?,?)",
                          (now.isoformat(timespec="milliseconds"), target, zone, priority, command, label))
        return cur.lastrowid

    def has_command(self, command: str) -> bool:
        """A hub's command already taken (as a request, or logged missed)."""
        return (self.store.one("SELECT 1 FROM requests WHERE command=?", (command,)) is not None
                or self.store.one("SELECT 1 FROM airings WHERE command=?", (command,)) is not None)

    def take_requests(self, zones: list[str]) -> list[tuple[int, str, str, str, str | None, str | None]]:
        """Pending requests for these zones, marked taken: (id, target, zone, priority, command, label)."""
        marks = ",".join("?" * len(zones))
        with self.store.transaction() as db:
            rows = db.execute(f"SELECT id, target, zone, priority, command, label FROM requests"
                              f" WHERE status='pending' AND zone IN ({marks}) ORDER BY id", zones).fetchall()
            for r in rows:
                db.execute("UPDATE requests SET status='taken' WHERE id=?", (r[0],))
        return rows

    def finish_request(self, request: int, status: str, reason: str | None = None, airing: int | None = None) -> None:
        self.store.write("UPDATE requests SET status=?, reason=?, airing=? WHERE id=?", (status, reason, airing, request))

    def request_state(self, request: int) -> tuple[str, str | None, int | None]:
        r = self.store.one("SELECT status, reason, airing FROM requests WHERE id=?", (request,))
        return (r[0], r[1], r[2]) if r else ("missing", None, None)

    def audio_in_use(self) -> set[str]:
        """Audio files the play log still needs: those of requests not yet played and of airings playing now."""
        rs = self.store.read("SELECT target FROM requests WHERE status IN ('pending', 'taken')"
                             " UNION SELECT audio FROM airings WHERE status='playing' AND audio IS NOT NULL")
        return {r[0] for r in rs}

    def airing(self, row: int) -> Row | None:
        r = self.store.one(f"{SELECT_ROW} FROM airings WHERE id=?", (row,))
        return Row(*r) if r else None

    def playing(self) -> list[Row]:
        rs = self.store.read(f"{SELECT_ROW} FROM airings WHERE status='playing' ORDER BY id")
        return [Row(*r) for r in rs]

    # --- the outbox: rows (and every later change of a row) until the hub above has them ---------

    def unsent(self, limit: int = 200) -> list[tuple[Row, int]]:
        """Rows whose latest version the hub above has not acknowledged, oldest first: (row, version)."""
        rs = self.store.read(f"{SELECT_ROW}, version FROM airings WHERE sent < version ORDER BY id LIMIT ?", (limit,))
        return [(Row(*r[:-1]), r[-1]) for r in rs]

    def mark_sent(self, row: int, version: int) -> None:
        self.store.write("UPDATE airings SET sent=? WHERE id=? AND sent < ?", (version, row, version))

    def backlog(self, *, below: bool = False) -> int:
        """Rows not yet with the hub above: this PC's own, and with ``below`` those of its stations."""
        own = self.store.one("SELECT count(*) FROM airings WHERE sent < version")[0]
        return own + (self.store.one("SELECT count(*) FROM station_airings WHERE sent < version")[0] if below else 0)

    def unsent_station_rows(self, limit: int = 200) -> list[tuple[Row, int]]:
        """At a hub that is a station too: rows of the stations below not yet passed up, (row, version)."""
        rs = self.store.read(f"{SELECT_ROW}, station, version FROM station_airings WHERE sent < version "
                             "ORDER BY scheduled_ts LIMIT ?", (limit,))
        return [(Row(*r[:-1]), r[-1]) for r in rs]

    def mark_station_sent(self, station: str, row: int, version: int) -> None:
        self.store.write("UPDATE station_airings SET sent=? WHERE station=? AND id=? AND sent < ?",
                         (version, station, row, version))

    # --- at a hub: every station's rows below ---------------------------------------------------------

    def store_station_rows(self, rows: list[dict], received: datetime) -> int:
        """Keep each station's rows, the newest version of each; returns how many were new or newer."""
        stamp = received.isoformat(timespec="milliseconds")
        cols = ("station", "version", *ROW_FIELDS, *EXTRA_FIELDS)
        sql = (f"INSERT INTO station_airings ({', '.join(cols)}, scheduled_ts, received) VALUES "
               f"({', '.join('?' * (len(cols) + 2))}) ON CONFLICT(station, id) DO UPDATE SET "
               + ", ".join(f"{c}=excluded.{c}" for c in (*cols[1:], "scheduled_ts", "received") if c != "id")
               + " WHERE excluded.version > station_airings.version")
        changed = 0
        with self.store.transaction() as db:
            for r in rows:
                cur = db.execute(sql, (*(r.get(c) for c in cols), datetime.fromisoformat(r["scheduled"]).timestamp(),
                                       stamp))
                changed += cur.rowcount
        return changed

    def last_below(self, zone: str) -> Row | None:
        """The latest airing that is over of a zone a station below plays (from the rows it sent up)."""
        r = self.store.one(f"{SELECT_ROW}, station FROM station_airings WHERE zone=? AND status != 'playing'"
                           " ORDER BY scheduled_ts DESC LIMIT 1", (zone,))
        return Row(*r) if r else None

    def station_rows(self, *, station: str | None = None, since: float | None = None, until: float | None = None,
                     zone: str | None = None, status: str | None = None) -> list[Row]:
        where, args = self._where(since, until, zone, status, station)
        return [Row(*r) for r in self.store.read(f"{SELECT_ROW}, station FROM station_airings{where}"
                                                 " ORDER BY scheduled_ts, station, zone, id", args)]

    def quarantine(self, station: str, reason: str, data: bytes, received: datetime) -> None:
        """A message from a station that is not a valid row: kept (its first bytes) with why, never stored as a row."""
        self.store.write("INSERT INTO quarantine (station, received, reason, data) VALUES (?,?,?,?)",
                         (station, received.isoformat(timespec="milliseconds"), reason, data[:512]))

    def quarantined(self) -> dict[str, int]:
        """How many messages of each station were quarantined."""
        return dict(self.store.read("SELECT station, count(*) FROM quarantine GROUP BY station"))

    def station_counts(self) -> dict[str, int]:
        return dict(self.store.read("SELECT station, count(*) FROM station_airings GROUP BY station"))
