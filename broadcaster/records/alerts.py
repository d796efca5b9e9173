"""Alerts: something is wrong on the air now (dead air, unexpected sound, a monitor that is gone).

One model (zone, kind, since, until, detail), kept in the play log's database so `status`, the
console and the hub above (the fleet heartbeat) read the same thing. An alert is raised once while
its condition lasts and clears itself, saying why, when the condition ends. The daemon's part
(``daemon.alerts``) raises and clears them and posts each change to the webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from broadcaster import __version__
from broadcaster.i18n import N_, _
from broadcaster.records.playlog import Journal

KIND_WORDS = {"dead_air": N_("dead air"), "unexpected": N_("unexpected sound"),
              "monitor": N_("monitor unavailable"), "malformed": N_("malformed messages"),
              "config": N_("configuration cannot be used"), "clock": N_("clock differs from the hub's")}
FIELDS = "id, zone, kind, since, until, detail, cleared, version"


@dataclass(frozen=True)
class Alert:
    id: int
    zone: str
    kind: str
    since: str
    until: str | None
    detail: str | None
    cleared: str | None   # why it cleared
    version: int = 1

    @property
    def active(self) -> bool:
        return self.until is None

    def line(self) -> str:
        """One line for a technician: "zone_a: dead air since 07:43:10: …"."""
        since = datetime.fromisoformat(self.since).strftime("%H:%M:%S")
        text = _("{zone}: {kind} since {time}", zone=self.zone, kind=_(KIND_WORDS.get(self.kind, self.kind)),
                 time=since)
        if self.until:
            text += _(", until {time}", time=datetime.fromisoformat(self.until).strftime("%H:%M:%S"))
        return text + (f": {self.detail}" if self.detail else "") + (f" ({self.cleared})" if self.cleared else "")


class AlertLog:
    """The alerts table of the play log's database."""

    def __init__(self, journal: Journal):
        self.store = journal.store

    def raise_(self, zone: str, kind: str, detail: str, now: datetime) -> bool:
        """Raise an alert (or update the detail of the one already raised); True if it is new."""
        r = self.store.one("SELECT id, detail FROM alerts WHERE zone=? AND kind=? AND until IS NULL", (zone, kind))
        if r:
            if r[1] != detail:
                self.store.write("UPDATE alerts SET detail=? WHERE id=?", (detail, r[0]))
            return False
        self.store.write("INSERT INTO alerts (zone, kind, since, detail) VALUES (?,?,?,?)",
                         (zone, kind, now.isoformat(timespec="milliseconds"), detail))
        return True

    def clear(self, zone: str, kind: str, why: str, now: datetime) -> Alert | None:
        """Clear the zone's alert of this kind, if one is raised; returns it as cleared."""
        r = self.store.one("SELECT id FROM alerts WHERE zone=? AND kind=? AND until IS NULL", (zone, kind))
        if not r:
            return None
        self.store.write("UPDATE alerts SET until=?, cleared=?, version=version+1 WHERE id=?",
                         (now.isoformat(timespec="milliseconds"), why, r[0]))
        return self.get(r[0])

    def get(self, alert_id: int) -> Alert | None:
        r = self.store.one(f"SELECT {FIELDS} FROM alerts WHERE id=?", (alert_id,))
        return Alert(*r) if r else None

    def active(self, zone: str | None = None) -> list[Alert]:
        rs = self.store.read(f"SELECT {FIELDS} FROM alerts WHERE until IS NULL"
                             + (" AND zone=?" if zone else "") + " ORDER BY since", (zone,) if zone else ())
        return [Alert(*r) for r in rs]

    def recent(self, limit: int = 20) -> list[Alert]:
        """The latest alerts, raised or cleared, newest first."""
        rs = self.store.read(f"SELECT {FIELDS} FROM alerts ORDER BY id DESC LIMIT ?", (limit,))
        return [Alert(*r) for r in rs]

    def unposted(self) -> list[Alert]:
        rs = self.store.read(f"SELECT {FIELDS} FROM alerts WHERE posted < version ORDER BY id LIMIT 50")
        return [Alert(*r) for r in rs]

    def posted(self, alert: Alert) -> None:
        self.store.write("UPDATE alerts SET posted=? WHERE id=? AND posted < ?", (alert.version, alert.id, alert.version))

    def close_all(self, why: str, now: datetime) -> int:
        """Clear every alert left raised (the daemon that raised them stopped)."""
        cur = self.store.write("UPDATE alerts SET until=?, cleared=?, version=version+1 WHERE until IS NULL",
                               (now.isoformat(timespec="milliseconds"), why))
        return cur.rowcount


def payload(alert: Alert, station: str | None) -> dict:
    """What the webhook receives: the alert, whether it is raised or cleared, and a readable line."""
    return {"station": station, "zone": alert.zone, "kind": alert.kind, "state": "raised" if alert.active else "cleared",
            "since": alert.since, "until": alert.until, "detail": alert.detail, "cleared": alert.cleared,
            "text": alert.line(), "id": alert.id, "software": __version__}
