"""systemd's watchdog: the daemon says it is alive only while it is.

Under systemd (contrib/broadcaster.service: ``Type=notify``, ``WatchdogSec=``) the daemon tells the
service manager it is ready once every part has started, and then, twice per watchdog interval, that it
is alive — only while every zone's worker goes round its loop and every open sound output's callback
is being called. A daemon stuck in either (a worker in a deadlock, a sound card that stopped taking
audio) stops saying so, says why in its status line and its log, and systemd restarts it. Without
``$NOTIFY_SOCKET`` (not under systemd) nothing is sent. The datagram protocol (sd_notify) needs no
library.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from broadcaster.daemon.outputs import Outputs
from broadcaster.daemon.parts import Part
from broadcaster.daemon.zones import PULSE, Zones
from broadcaster.i18n import _

log = logging.getLogger("broadcaster.daemon")

WORKER_STALL = 3 * PULSE   # seconds a zone's worker may not go round its loop (it does every PULSE s at most)
OUTPUT_STALL = 3.0         # seconds an open sound output may not call back (it does every few ms)


def notify(message: str) -> bool:
    """One message to the service manager (``READY=1``, ``WATCHDOG=1``, ``STATUS=…``); False if none listens."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):   # an abstract socket
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(path)
            s.sendall(message.encode("utf-8"))
        return True
    except OSError:
        return False


class Watchdog(Part):
    name = "watchdog"

    def __init__(self, daemon):
        super().__init__(daemon)
        usec, pid = os.environ.get("WATCHDOG_USEC", ""), os.environ.get("WATCHDOG_PID")
        self.every = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 and pid in (None, str(os.getpid())) \
            else None
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.said: str | None = None

    def start(self) -> None:
        notify("READY=1\nSTATUS=" + _("on the air: zones {zones}", zones=", ".join(self.d.served)))
        if self.every:
            self.thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        if self.d.restart_with is None:   # (an update runs the new version in this same process: not stopping)
            notify("STOPPING=1")
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(5)

    def problem(self) -> str | None:
        """Why the daemon is not well (a zone's worker or sound output stuck), or None."""
        now = time.monotonic()
        for zone, w in self.d.get(Zones).workers.items():
            if not w.is_alive():
                return _("zone {zone}: its worker has stopped", zone=zone)
            if now - w.pulse > WORKER_STALL:
                return _("zone {zone}: its worker has been stuck for {seconds} s", zone=zone,
                         seconds=f"{now - w.pulse:.0f}")
        for zone, out in list(self.d.get(Outputs).streams.items()):
            if out.started and not out.closed.is_set() and now - out.called > OUTPUT_STALL:
                return _("zone {zone}: its sound output has not taken audio for {seconds} s", zone=zone,
                         seconds=f"{now - out.called:.0f}")
        return None

    def _run(self) -> None:
        while not self.stopping.wait(self.every):
            problem = self.problem()
            if problem is None:
                notify("WATCHDOG=1" + ("\nSTATUS=" + _("on the air again") if self.said else ""))
                if self.said:
                    log.warning(_("watchdog: the daemon is well again"))
                self.said = None
            elif problem != self.said:   # no "alive" while it is not: systemd restarts it after WatchdogSec
                log.critical(_("watchdog: {problem}; not telling systemd the daemon is alive (it restarts it)",
                               problem=problem))
                notify("STATUS=" + problem)
                self.said = problem
