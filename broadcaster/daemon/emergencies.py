"""Emergencies: an urgent broadcast with its targets, a deadline and a number of rounds (or "until
stopped"), followed per cluster from sent to received, aired and heard (proof of air), and stopped
from the page that started it.

The console writes the emergency into the play log; the daemon of the same PC sends its rounds (so
it goes on when nobody has the page open): a `play` request for each zone this PC plays, a signed
command to the station below for the zones played there (as `play --group` sends). Stopping ends the
rounds, takes back what waits, fades out what plays here, and sends the stations below a signed stop
for its commands. Every step is written to the accounts' audit by the console and to the daemon's log.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from broadcaster.i18n import _
from broadcaster.daemon.parts import Periodic

log = logging.getLogger("broadcaster.daemon")

STEPS = ("sent", "received", "aired", "heard")
AIRED = ("playing", "played", "late", "interrupted")
TAKEN_EVERY = 3.0   # seconds between looks at which stations below took an emergency's commands
RETRY = 10.0        # seconds before a round the server did not take is sent again
MAX_REPEATS = 100
UNTIL_STOPPED = 0


@dataclass(frozen=True)
class Emergency:
    id: int
    created: str
    by: str
    target: str
    label: str
    zones: tuple[str, ...]
    priority: str
    repeats: int          # rounds in all; 0: until stopped (or the deadline)
    every: float          # seconds from one round to the next
    deadline: float       # no round starts after this (epoch seconds)
    status: str           # active | stopped | done
    rounds: int
    next: float
    stopped_by: str | None
    stopped: float | None
    stop_sent: int


def _emergency(r) -> Emergency:
    return Emergency(*r[:5], tuple(json.loads(r[5])), *r[6:])


def create(journal, *, by: str, target: str, label: str, zones: list[str], priority: str, repeats: int,
           every: float, deadline: float, now: datetime) -> int:
    return journal.store.write(
        "INSERT INTO emergencies (created, by, target, label, zones, priority, repeats, every, deadline, next)"
        " VALUES (?,?,?,?,?,?,?,?,?,?)", (now.isoformat(timespec="seconds"), by, target, label, json.dumps(zones),
                                          priority, repeats, every, deadline, now.timestamp())).lastrowid


def get(journal, eid: int) -> Emergency | None:
    r = journal.store.one("SELECT * FROM emergencies WHERE id=?", (eid,))
    return _emergency(r) if r else None


def listed(journal, limit: int = 50) -> list[Emergency]:
    return [_emergency(r) for r in journal.store.read("SELECT * FROM emergencies ORDER BY id DESC LIMIT ?", (limit,))]


def stop(journal, eid: int, by: str) -> bool:
    """Mark it stopped (the daemon takes back what waits and fades out what plays); False if it was not active."""
    cur = journal.store.write("UPDATE emergencies SET status='stopped', stopped_by=?, stopped=? "
                              "WHERE id=? AND status='active'", (by, time.time(), eid))
    return cur.rowcount == 1


def sends(journal, eid: int) -> list[tuple]:
    """(round, zone, station, request, command, taken, sent) of each thing sent for it."""
    return journal.store.read("SELECT round, zone, station, request, command, taken, sent FROM emergency_sends "
                              "WHERE emergency=? ORDER BY round, zone", (eid,))


def states(cfg, journal, e: Emergency) -> list[dict]:
    """Per zone (cluster): how far its last round got — sent, received, aired, heard — with the airing's
    status and what its monitor heard. Received: here, the daemon took the request; below, the station
    acknowledged the command (its consumer's acknowledgement, read by this PC's daemon)."""
    out = {z: {"zone": z, "name": cfg.zones[z].name if z in cfg.zones else z, "step": None, "status": None,
               "heard": None, "round": 0, "station": cfg.zones[z].station if z in cfg.zones else None}
           for z in e.zones}
    last: dict[str, tuple] = {}
    for rnd, zone, station, request, command, taken, sent in sends(journal, e.id):
        last[zone] = (rnd, station, request, command, taken)
    for zone, (rnd, station, request, command, taken) in last.items():
        st = out.setdefault(zone, {"zone": zone, "name": zone, "station": station, "status": None, "heard": None})
        st.update(round=rnd, step="sent")
        if request is not None:   # played here: the request's state, then its airing
            status, _reason, airing = journal.request_state(request)
            received = status != "pending"
            row = journal.store.one("SELECT status, heard FROM airings WHERE request=? ORDER BY id DESC LIMIT 1",
                                    (request,))
        else:                     # below: the station took the command, then the rows it sent up
            received = bool(taken)
            row = journal.store.one("SELECT status, heard FROM station_airings WHERE command=? AND zone=? "
                                    "ORDER BY received DESC LIMIT 1", (command, zone))
        if received or row is not None:
            st["step"] = "received"
        if row is not None:
            st["status"], st["heard"] = row
            if row[0] in AIRED:
                st["step"] = "aired"
            if row[1] == "confirmed":
                st["step"] = "heard"
    return list(out.values())


class Emergencies(Periodic):
    """The daemon's side: each active emergency's rounds on time, and a stop carried out. ``below`` sends
    to the stations below: set by a hub's link to them (fleet.collect.HubLink), None elsewhere."""

    name = "emergencies"
    interval = 1.0
    below = None
    _looked = 0.0

    def tick(self) -> None:
        d = self.d
        now = time.time()
        if now - self._looked >= TAKEN_EVERY:
            self._looked = now
            self._taken()
        rows = d.journal.store.read("SELECT * FROM emergencies WHERE status='active' AND next <= ? "
                                    "OR (status='stopped' AND stop_sent=0)", (now,))
        for e in map(_emergency, rows):
            if e.status == "stopped":
                self._stop(e)
            elif now > e.deadline or (e.repeats and e.rounds >= e.repeats):
                d.journal.store.write("UPDATE emergencies SET status='done' WHERE id=?", (e.id,))
            elif not self._mine(e):
                continue
            else:
                self._round(e, now)

    def _taken(self) -> None:
        """Mark the commands of recent emergencies that the stations below have taken."""
        waiting = self.d.journal.store.read(
            "SELECT DISTINCT station, sequence FROM emergency_sends WHERE command IS NOT NULL AND taken = 0 AND sent > ?",
            (time.time() - 3600,))
        if not waiting or self.below is None:
            return
        try:
            floors = self.below.taken(sorted({s for s, _q in waiting}))
        except Exception as ex:   # the server is away: looked at again later
            log.debug("emergency: which commands were taken: %s", ex)
            return
        for station, floor in floors.items():
            self.d.journal.store.write("UPDATE emergency_sends SET taken=1 WHERE station=? AND sequence<=? AND "
                                       "taken=0", (station, floor))

    def _mine(self, e: Emergency) -> bool:
        """Whether this daemon sends it: it plays one of its zones, or it is the hub of the stations below."""
        cfg = self.d.cfg
        return any(z in self.d.served or (self.below is not None and z in cfg.zones and cfg.zones[z].station)
                   for z in e.zones)

    def _round(self, e: Emergency, now: float) -> None:
        d = self.d
        cfg = d.cfg
        rnd = e.rounds + 1
        here = [z for z in e.zones if z in d.served]
        below = [z for z in e.zones if z not in d.served and z in cfg.zones and cfg.zones[z].station
                 and self.below is not None]
        at = d.clock.now()
        for z in here:
            rid = d.journal.add_request(e.target, z, e.priority, at, label=e.label)
            d.journal.store.write("INSERT INTO emergency_sends (emergency, round, zone, request, sent) "
                                  "VALUES (?,?,?,?,?)", (e.id, rnd, z, rid, now))
        if below:
            try:
                for station, zones, command, seq in self.below.round(e, below, at):
                    for z in zones:
                        d.journal.store.write(
                            "INSERT INTO emergency_sends (emergency, round, zone, station, command, sequence, sent) "
                            "VALUES (?,?,?,?,?,?,?)", (e.id, rnd, z, station, command, seq, now))
            except Exception as ex:   # the server is away: this round is tried again a little later
                log.warning(_("emergency {id}: round {round} not sent to the stations below yet: {reason}",
                              id=e.id, round=rnd, reason=getattr(ex, "message", None) or ex))
                if not here:
                    d.journal.store.write("UPDATE emergencies SET next=? WHERE id=?", (now + RETRY, e.id))
                    return
        d.journal.store.write("UPDATE emergencies SET rounds=?, next=? WHERE id=?", (rnd, now + e.every, e.id))
        log.warning(_("emergency {id}: round {round} of {rounds} sent ({item} on {count} zone(s))", id=e.id,
                      round=rnd, rounds=e.repeats or "∞", item=e.label, count=len(here) + len(below)))

    def _stop(self, e: Emergency) -> None:
        d = self.d
        from broadcaster.daemon.zones import Zones
        requests = {r for (r,) in d.journal.store.read(
            "SELECT request FROM emergency_sends WHERE emergency=? AND request IS NOT NULL", (e.id,))}
        reason = _("emergency {id} stopped by {name}", id=e.id, name=e.stopped_by)
        for w in d.get(Zones).workers.values():
            for it in w.take(lambda it: it.request in requests, cut=reason):
                d.journal.finish_request(it.request, "interrupted", reason)
        for r in requests:   # still waiting to be taken
            d.journal.store.write("UPDATE requests SET status='interrupted', reason=? WHERE id=? AND status='pending'",
                                  (reason, r))
        commands = d.journal.store.read("SELECT DISTINCT station, command FROM emergency_sends WHERE emergency=? "
                                        "AND command IS NOT NULL", (e.id,))
        if commands and self.below is not None:
            try:
                self.below.stop(commands, d.clock.now())
            except Exception as ex:
                log.warning(_("emergency {id}: the stop not sent to the stations below yet: {reason}", id=e.id,
                              reason=getattr(ex, "message", None) or ex))
                return
        d.journal.store.write("UPDATE emergencies SET stop_sent=1 WHERE id=?", (e.id,))
        log.warning(reason)
