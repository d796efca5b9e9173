"""Alerts: something is wrong on the air now (dead air, unexpected sound, a monitor that is gone).

One model (zone, kind, since, until, detail), kept in the play log's database so `status`, the
console and the district (the fleet heartbeat) read the same thing. An alert is raised once while
its condition lasts and clears itself, saying why, when the condition ends. Every raise and clear
is POSTed as JSON to ``[alerts] webhook`` when one is set, retried until it is taken (the outbox is
the table itself: ``posted < version``).
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime

from broadcaster import __version__
from broadcaster.i18n import N_, _
from broadcaster.station.parts import Part
from broadcaster.station.playlog import Journal

log = logging.getLogger("broadcaster.daemon")

KIND_WORDS = {"dead_air": N_("dead air"), "unexpected": N_("unexpected sound"),
              "monitor": N_("monitor unavailable"), "malformed": N_("malformed messages")}
RETRY = (2, 5, 10, 30, 60)   # seconds between tries of a webhook that did not answer 2xx
WEBHOOK_TIMEOUT = 10.0
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


class Alerts(Part):
    """Raises and clears alerts for the other parts, logs them, and posts them to the webhook."""

    name = "alerts"

    def __init__(self, daemon):
        super().__init__(daemon)
        self.log: AlertLog | None = None
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.log = AlertLog(self.d.journal)
        self.log.close_all(_("the daemon restarted"), self.d.clock.now())
        self.thread = threading.Thread(target=self._post_loop, name="alerts webhook", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=WEBHOOK_TIMEOUT + 2)
        if self.log is not None:
            self.log.close_all(_("the daemon stopped"), self.d.clock.now())

    def raise_(self, zone: str, kind: str, detail: str) -> None:
        if self.log.raise_(zone, kind, detail, self.d.clock.now()):
            log.error(_("ALERT {zone}: {kind}: {detail}", zone=zone, kind=_(KIND_WORDS[kind]), detail=detail))
            self.wake.set()

    def clear(self, zone: str, kind: str, why: str) -> None:
        if self.log.clear(zone, kind, why, self.d.clock.now()):
            log.warning(_("alert cleared {zone}: {kind}: {why}", zone=zone, kind=_(KIND_WORDS[kind]), why=why))
            self.wake.set()

    def _post_loop(self) -> None:
        tries = 0
        while not self.stopping.is_set():
            url = self.d.cfg.alerts.webhook
            pending = self.log.unposted() if url else []
            failed = False
            for alert in pending:
                if self.stopping.is_set():
                    return
                error = post(url, payload(alert, self.d.cfg.fleet.station if self.d.cfg.fleet else None))
                if error:
                    if tries == 0:
                        log.warning(_("the alert webhook did not take the alert: {reason}; trying again",
                                      reason=error))
                    failed = True
                    break
                self.log.posted(alert)
            tries = tries + 1 if failed else 0
            self.wake.wait(RETRY[min(tries, len(RETRY)) - 1] if failed else 30.0)
            self.wake.clear()


def post(url: str, doc: dict) -> str | None:
    """POST ``doc`` as JSON; None when the server took it (2xx), else why not."""
    req = urllib.request.Request(url, data=json.dumps(doc, ensure_ascii=False).encode(), method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8",
                                          "User-Agent": f"broadcaster/{__version__}"})
    try:
        with urllib.request.urlopen(req, timeout=WEBHOOK_TIMEOUT) as resp:
            return None if 200 <= resp.status < 300 else f"HTTP {resp.status}"
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code} {e.reason}"
    except (urllib.error.URLError, OSError, ValueError) as e:
        return str(getattr(e, "reason", e))
