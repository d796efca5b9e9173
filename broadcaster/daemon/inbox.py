"""`play` requests: taken from the play log's request table and handed to the zones' workers."""

from __future__ import annotations

import logging
from pathlib import Path

from broadcaster.config import AUDIO_SUFFIXES
from broadcaster.config.schedule import quiet_now
from broadcaster.i18n import _
from broadcaster.daemon.parts import Periodic
from broadcaster.daemon.items import Item
from broadcaster.daemon.zones import Zones

log = logging.getLogger("broadcaster.daemon")


class Requests(Periodic):
    name = "requests"
    interval = 0.5
    waits_for_reload = True

    def tick(self) -> None:
        d = self.d
        workers = d.get(Zones).workers
        # only zones whose worker runs: a zone a reload adds is taken once its worker is there, not lost
        for rid, target, zone, priority, command, label in d.journal.take_requests([z for z in d.served
                                                                                   if z in workers]):
            now = d.clock.now()
            quiet = quiet_now(d.cfg, [zone], priority, now)
            if quiet:   # every path ends here (the command line, the console, the API, a hub's command)
                reason = _("{zones}: quiet hours now; only an urgent airing plays then", zones=quiet[0])
                log.warning(_("zone {zone}: request {request} refused: {reason}", zone=zone, request=rid, reason=reason))
                d.journal.finish_request(rid, "failed", reason)
                continue
            item = Item(now, zone, priority, request=rid, command=command)
            if target in d.cfg.bulletins:
                item.bulletin = target
            else:
                path = Path(target)
                if not path.is_file() or path.suffix.lower() not in AUDIO_SUFFIXES or not d.cfg.inside(path):
                    d.journal.finish_request(rid, "failed", _("{target} is not a bulletin id or an audio file "
                                                              "inside the project", target=target))
                    continue
                item.audio = path
                item.bulletin = label   # a name for the log (the hub's bulletin id), if it has one
            log.info(_("zone {zone}: request {request} to play {item} ({priority})", zone=zone, request=rid,
                       item=item.label, priority=priority))
            workers[zone].submit(item)
