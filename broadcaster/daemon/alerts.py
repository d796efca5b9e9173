"""The alerts part: raises and clears the alerts of ``records.alerts`` for the other parts, logs them,
and POSTs every raise and clear as JSON to ``[alerts] webhook`` when one is set, retried until it is
taken (the outbox is the table itself: ``posted < version``).
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request

from broadcaster import __version__
from broadcaster.i18n import _
from broadcaster.daemon.parts import Part
from broadcaster.records.alerts import KIND_WORDS, AlertLog, payload

log = logging.getLogger("broadcaster.daemon")

RETRY = (2, 5, 10, 30, 60)   # seconds between tries of a webhook that did not answer 2xx
WEBHOOK_TIMEOUT = 10.0


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
