"""At the district: every station's play-log rows, from the log stream into the district's own play log.

A durable consumer keeps the place, so rows are neither lost nor taken twice across restarts;
a row's newer version (an airing that ended) replaces the older one. The station is taken from
the subject the server accepted the row on (each station may publish only on its own), never
from the row itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone

from broadcaster.errors import FleetError
from broadcaster.fleet.client import Link
from broadcaster.fleet.credentials import load_credentials
from broadcaster.i18n import _
from broadcaster.fleet.background import LoopPart
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
        rows = []
        for m in msgs:
            try:
                row = json.loads(m.data)
                row["station"] = m.subject.split(".", 2)[2]
                if isinstance(row.get("id"), int) and isinstance(row.get("version"), int) and row.get("scheduled"):
                    datetime.fromisoformat(row["scheduled"])
                    rows.append(row)
            except (ValueError, TypeError, IndexError):
                log.warning(_("a play-log row that cannot be read was dropped ({subject})", subject=m.subject))
        journal.store_station_rows(rows, datetime.now(timezone.utc))
        await asyncio.gather(*(m.ack() for m in msgs))
        total += len(msgs)


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
            finally:
                await link.close()
            try:
                await asyncio.wait_for(self.stopping.wait(), 5)
            except asyncio.TimeoutError:
                pass
