"""At the district: every station's play-log rows, from the log stream into the district's own play log.

A durable consumer keeps the place, so rows are neither lost nor taken twice across restarts;
a row's newer version (an airing that ended) replaces the older one. The station is taken from
the subject the server accepted the row on (each station may publish only on its own), never
from the row itself. Every message is parsed into a typed row first (``fleet.records``); one that
does not parse is quarantined, counted and raised as an alert naming its station, and acked: it
never stops the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone

from broadcaster.errors import BroadcasterError, FleetError
from broadcaster.fleet.client import Link
from broadcaster.fleet.credentials import load_credentials
from broadcaster.fleet.records import Rejected, parse_row
from broadcaster.i18n import _
from broadcaster.fleet.background import LoopPart
from broadcaster.station.alerts import AlertLog
from broadcaster.station.playlog import Journal

log = logging.getLogger("broadcaster.fleet")

BATCH = 1000


async def collect(link: Link, journal: Journal, *, until_idle: float | None = 0.5) -> int:
    """Take what the log stream holds for the district; with ``until_idle`` stop after that many
    seconds with nothing new, else run until cancelled. Returns how many rows were taken."""
    sub = await link.log_consumer()
    total = 0
    while True:
        try:
            msgs = await sub.fetch(BATCH, timeout=until_idle or 5)
        except Exception as e:
            if isinstance(e, asyncio.TimeoutError) or type(e).__name__ == "TimeoutError":
                if until_idle:
                    return total
                continue
            raise FleetError(_("the message server did not answer ({what}): {reason}", what=_("read the play logs"),
                               reason=type(e).__name__)) from None
        received = datetime.now(timezone.utc)
        rows = []
        for m in msgs:
            station = m.subject.split(".", 2)[2] if m.subject.count(".") >= 2 else "?"
            parsed = parse_row(m.data, station)
            if isinstance(parsed, Rejected):
                _quarantine(journal, parsed, received)
            else:
                rows.append(parsed)
        _store(journal, rows, received)
        await asyncio.gather(*(m.ack() for m in msgs))
        total += len(msgs)


def _quarantine(journal: Journal, bad: Rejected, received: datetime) -> None:
    """Keep a bad message aside, say so once per station in the log, and raise an alert naming the station."""
    journal.quarantine(bad.station, bad.reason, bad.data, received)
    if AlertLog(journal).raise_(bad.station, "malformed", _("station {station} sent a message that is not a valid "
                                                            "play-log row ({reason}); it was kept aside",
                                                            station=bad.station, reason=bad.reason), received):
        log.warning(_("station {station} sent a message that is not a valid play-log row ({reason}); it was kept "
                      "aside, the other rows go on", station=bad.station, reason=bad.reason))


def _store(journal: Journal, rows: list[dict], received: datetime) -> None:
    """The rows, together; if the database refuses the batch, one by one, so one row never holds back the rest."""
    try:
        journal.store_station_rows(rows, received)
        return
    except BroadcasterError:
        pass
    for row in rows:
        try:
            journal.store_station_rows([row], received)
        except BroadcasterError as e:
            _quarantine(journal, Rejected(row["station"], str(e), json.dumps(row).encode()[:512]), received)


async def collect_once(cfg, journal: Journal) -> int:
    link = Link(load_credentials(cfg))
    await link.connect(name="broadcaster district")
    try:
        return await collect(link, journal)
    finally:
        await link.close()


class DistrictCollector(LoopPart):
    """In the district's daemon: stations' rows taken as they arrive."""

    name = "collector"

    def start(self) -> None:
        self.creds = load_credentials(self.d.cfg)
        super().start()

    async def main(self) -> None:
        said = None
        while not self.stopping.is_set():
            link = Link(self.creds)
            try:
                await link.connect(name="broadcaster district collector", forever=True)
                await link.ensure_layout(self.d.cfg.stations())
                said = None
                task = asyncio.create_task(collect(link, self.d.journal, until_idle=None))
                stop = asyncio.create_task(self.stopping.wait())
                await asyncio.wait([task, stop], return_when=asyncio.FIRST_COMPLETED)
                for t in (task, stop):
                    t.cancel()
                if task.done() and not task.cancelled() and task.exception():
                    raise task.exception()
            except FleetError as e:
                if str(e) != said:
                    log.warning(_("district collector: {reason}; trying again", reason=e))
                said = str(e)
            except Exception:   # never let one bad moment stop the collection for good
                log.exception(_("district collector: unexpected error; trying again"))
            finally:
                await link.close()
            try:
                await asyncio.wait_for(self.stopping.wait(), 5)
            except asyncio.TimeoutError:
                pass
