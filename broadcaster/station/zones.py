"""A zone's worker: plays one airing at a time, highest priority first, on the exact instant.

Items (airings waiting to play) come from the daemon's planner and from `play`
requests. The worker prepares each one LEAD seconds ahead, starts it on time (or
as soon as the zone is free, logged late), fades it out for an urgent item or a
shutdown, and writes its row in the play log.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.errors import BroadcasterError
from broadcaster.i18n import _
from broadcaster.station.monitor import Monitors
from broadcaster.station.outputs import Outputs
from broadcaster.station.parts import Part
from broadcaster.station.playlog import STATUS_WORDS
from broadcaster.station.renderer import Renderer
from broadcaster.station.schedule import PRIORITY_RANK

if TYPE_CHECKING:
    from broadcaster.station.daemon import Daemon

log = logging.getLogger("broadcaster.daemon")

LEAD = 3.0            # seconds before its time an airing is prepared
LATE_AFTER = 1.0      # an airing that starts this much after its time is logged late
ROW_AHEAD = 0.3       # the play log row is committed this long before the first sample (fsync takes time)
URGENT_FADE = 0.5     # seconds: what an urgent airing cuts into fades out over this, ending on its time
START_ERROR_WARN_MS = 50  # a first sample further than this from its time is worth a warning in the log


@dataclass(order=True)
class Item:
    """One airing waiting in a zone's queue."""
    sort_key: tuple = field(init=False, repr=False)
    scheduled: datetime = field(compare=False)
    zone: str = field(compare=False)
    priority: str = field(compare=False)
    bulletin: str | None = field(default=None, compare=False)
    audio: Path | None = field(default=None, compare=False)   # a file from `play`
    slot: int | None = field(default=None, compare=False)
    request: int | None = field(default=None, compare=False)
    note: str | None = field(default=None, compare=False)     # why it is late, if known
    command: str | None = field(default=None, compare=False)  # the district's command id, if it came so
    ends: datetime | None = field(default=None, compare=False)  # a relay (``bulletin`` names its source): its end
    resume: bool = field(default=False, compare=False)        # a relay going on after an urgent airing

    def __post_init__(self):
        self.sort_key = (-PRIORITY_RANK[self.priority], self.scheduled.timestamp())

    @property
    def label(self) -> str:
        return self.bulletin or (self.audio.name if self.audio else "?")


class ZoneWorker(threading.Thread):
    """Plays one zone's airings, one at a time, highest priority first."""

    def __init__(self, daemon: "Daemon", zone: str):
        super().__init__(name=f"zone {zone}", daemon=True)
        self.d = daemon
        self.zone = zone
        self.heap: list[tuple] = []
        self.seq = itertools.count()
        self.cv = threading.Condition()
        self.current: Item | None = None
        self.playback = None
        self.cut: tuple[str, str] | None = None  # (status, reason) when an airing is ended early
        self.stopping = False
        self.outputs = daemon.get(Outputs)
        self.renderer = daemon.get(Renderer)
        self.monitors = daemon.get(Monitors)
        self.watch = None    # the monitor's watch on what plays (proof of air), if the zone has a monitor

    def submit(self, item: Item) -> None:
        with self.cv:
            heapq.heappush(self.heap, (item.sort_key, next(self.seq), item))
            self._cut_for_urgent()
            self.cv.notify_all()

    def _cut_for_urgent(self) -> None:
        """Fade out what plays when an urgent airing is due (one planned ahead waits for its time)."""
        with self.cv:
            if self.current is None or self.current.priority == "urgent" or self.playback is None or self.cut:
                return
            now = self.d.clock.wall()
            due = [e[2] for e in self.heap
                   if e[2].priority == "urgent" and e[2].scheduled.timestamp() - URGENT_FADE <= now]
            if due:
                self.cut = ("interrupted", _("interrupted by the urgent {item}", item=due[0].label))
                self.playback.fade_out(URGENT_FADE)

    def drop_future(self, after: float) -> list[Item]:
        """Take back scheduled airings not yet prepared (for a reload)."""
        with self.cv:
            keep, dropped = [], []
            for entry in self.heap:
                it = entry[2]
                (dropped if it.slot is not None and it.scheduled.timestamp() > after else keep).append(entry)
            heapq.heapify(keep)
            self.heap = keep
            return [e[2] for e in dropped]

    def stop(self) -> None:
        with self.cv:
            self.stopping = True
            if self.playback is not None:
                self.cut = ("interrupted", _("the daemon was stopped"))
                self.playback.fade_out(0.3)
            self.cv.notify_all()

    def _next_due(self) -> tuple[Item | None, float]:
        """The item to prepare now (best priority among those due), or how long to wait."""
        now = self.d.clock.wall()
        due = [e for e in self.heap if e[2].scheduled.timestamp() - LEAD <= now]
        if due:
            best = min(due)
            self.heap.remove(best)
            heapq.heapify(self.heap)
            return best[2], 0.0
        wait = min((e[2].scheduled.timestamp() - LEAD - now for e in self.heap), default=0.5)
        return None, max(0.01, min(0.5, wait))

    def run(self) -> None:
        while True:
            with self.cv:
                item = None
                while not self.stopping:
                    item, wait = self._next_due()
                    if item:
                        break
                    self.cv.wait(wait)
                if self.stopping:
                    return
                self.current = item
                self.cut = None
            try:
                self._air(item)
            except Exception:  # never let one airing take the zone down
                log.exception(_("zone {zone}: unexpected error while airing {item}", zone=self.zone, item=item.label))
            finally:
                self.monitors.end(self.watch)
                self.watch = None
                with self.cv:
                    if self.playback is not None:
                        self.outputs.release(self.playback)
                    self.current = None
                    self.playback = None

    def _air(self, item: Item) -> None:
        d = self.d
        try:
            if item.ends is not None:
                start = max(item.scheduled.timestamp(), d.clock.wall() + 0.2)
                source, pb = self._open_relay(item, start)
                if pb is None:
                    return
                path, sha = source.url or source.device, None
            else:
                path, sha = self.renderer.audio_for(item)
                pb = self.outputs.open(self.zone, path)
                start = max(item.scheduled.timestamp(), d.clock.wall() + 0.2)
        except BroadcasterError as e:
            self._failed(item, e.message + (f" ({e.hint})" if e.hint else ""))
            return
        with self.cv:
            if self.stopping:
                pb.close()
                self.outputs.release(pb)
                return
            self.playback = pb
        self.watch = self.monitors.begin(self.zone, pb, item.label)
        pb.hold()  # not a sample before the row is committed: a crash can never make an unlogged airing
        pb.start_at(start + (time.time() - d.clock.wall()))  # the stream runs on the real clock
        delay = start - d.clock.wall() - ROW_AHEAD
        if delay > 0:
            time.sleep(delay)
        started = datetime.fromtimestamp(start, d.tz)
        row = d.journal.start(scheduled=item.scheduled, zone=self.zone, bulletin=item.bulletin,
                              audio=str(path), audio_sha256=sha, priority=item.priority, slot=item.slot,
                              request=item.request, started=started, command=item.command)
        if row is None:
            pb.close()
            log.warning(_("zone {zone}: {item} at {time} already has a log row; not playing it twice",
                          zone=self.zone, item=item.label, time=item.scheduled.strftime("%H:%M:%S")))
            return
        if self.watch is not None:
            self.watch.row = row
        pb.arm()
        # a `play` request has no slot to be late for: its time is when it was asked for
        late = start - item.scheduled.timestamp() if item.request is None and not item.resume else 0.0
        log.info(_("zone {zone}: playing {item} (scheduled {time})", zone=self.zone, item=item.label,
                   time=item.scheduled.strftime("%H:%M:%S"))
                 + (_(", {seconds} s late", seconds=f"{late:.1f}") if late > LATE_AFTER else ""))
        limit = pb.duration + 30 if pb.rate else 3600
        t0 = time.monotonic()
        measured = False
        while not pb.wait(0.1):
            measured = measured or self._measured_start(row, pb, start)
            self._cut_for_urgent()
            if time.monotonic() - t0 > limit + LEAD:
                pb.close()
                self.cut = self.cut or ("failed", _("the sound output stopped playing"))
                break
        pb.close()
        if not measured:
            self._measured_start(row, pb, start)
        ended = d.clock.now()
        relay = self._relay_outcome(item, pb) if item.ends is not None else None
        if self.cut:
            status, reason = self.cut
        elif pb.feeder.error or pb.error:
            status, reason = "failed", pb.feeder.error or pb.error
        elif late > LATE_AFTER:
            status, reason = "late", item.note or _("started {seconds} s late: the zone was busy", seconds=f"{late:.1f}")
        else:
            status, reason = "played", None
        if relay and (self.cut or status != "failed"):
            relayed, _fallback, events = relay
            if not self.cut and relayed <= 0:
                status = "failed"   # nothing of the source reached the air
            if events:
                reason = "; ".join(([reason] if reason else []) + events)
        d.journal.finish(row, status, ended, reason, relayed_s=relay[0] if relay else None,
                         fallback_s=relay[1] if relay else None)
        if item.request is not None:
            d.journal.finish_request(item.request, "done" if status in ("played", "late") else status, reason, row)
        log.info(_("zone {zone}: {item} {status}", zone=self.zone, item=item.label, status=_(STATUS_WORDS[status]))
                 + (f" ({reason})" if reason else ""))

    def _open_relay(self, item: Item, start: float):
        """(source, playback) for a relay item from ``start`` to its end; (source, None) when there
        is nothing left of it (logged)."""
        source = self.d.cfg.sources.get(item.bulletin)
        if source is None:
            raise BroadcasterError(_('source "{source}" is no longer in the configuration', source=item.bulletin))
        seconds = item.ends.timestamp() - start
        if seconds < 1.0:
            self._failed(item, _("its time was over before the zone was free"), status="missed")
            return source, None
        return source, self.outputs.open_relay(self.zone, source, seconds, self.renderer.fallback_for(source))

    def _relay_outcome(self, item: Item, pb) -> tuple[float, float, list[str]]:
        """(seconds relayed, seconds of fallback, what happened) of a relay; after an urgent airing
        cut it, the rest of it is queued to go on."""
        relayed, fallback = pb.feeder.tally(int(pb.position() * pb.rate))
        events = list(pb.feeder.events)
        if fallback > 0.5:
            events.append(_("fallback for {seconds} s", seconds=f"{fallback:.0f}"))
        if self.cut and self.cut[0] == "interrupted" and not self.stopping \
                and item.ends.timestamp() - self.d.clock.wall() > 2.0:
            self.submit(Item(self.d.clock.now(), self.zone, item.priority, bulletin=item.bulletin, slot=item.slot,
                             ends=item.ends, resume=True, command=item.command))
            events.append(_("the relay goes on after it"))
        return relayed, fallback, events

    def _measured_start(self, row: int, pb, due: float) -> bool:
        """The log's ``started`` becomes when the first sample left the output (PortAudio's DAC time of
        that block), and ``start_error_ms`` how far that was from when it was due. False until it has left."""
        error = pb.start_error()
        if error is None:
            return False
        self.d.journal.measured_start(row, datetime.fromtimestamp(due + error, self.d.tz), error * 1000)
        if abs(error) * 1000 > START_ERROR_WARN_MS:
            log.warning(_("zone {zone}: the first sample left {ms} ms from its time", zone=self.zone,
                          ms=f"{error * 1000:+.0f}"))
        return True

    def _failed(self, item: Item, reason: str, status: str = "failed") -> None:
        row = self.d.journal.record(scheduled=item.scheduled, zone=self.zone, bulletin=item.bulletin,
                                    priority=item.priority, slot=item.slot, status=status, reason=reason,
                                    request=item.request, audio=str(item.audio) if item.audio else None,
                                    command=item.command)
        if item.request is not None:
            self.d.journal.finish_request(item.request, "failed", reason, row)
        log.error(_("zone {zone}: {item} at {time} failed: {reason}", zone=self.zone, item=item.label,
                    time=item.scheduled.strftime("%H:%M:%S"), reason=reason))


class Zones(Part):
    """One worker per zone this daemon serves; a zone added by a reload gets one."""

    name = "zones"

    def __init__(self, daemon: "Daemon"):
        super().__init__(daemon)
        self.workers: dict[str, ZoneWorker] = {}

    def start(self) -> None:
        for z in self.d.served:
            self._add(z)

    def _add(self, zone: str) -> None:
        self.workers[zone] = ZoneWorker(self.d, zone)
        self.workers[zone].start()

    def reload(self, old, new) -> None:
        if new != old:
            for z in self.d.served:
                if z not in self.workers:
                    self._add(z)

    def stop(self) -> None:
        for w in self.workers.values():
            w.stop()
        for w in self.workers.values():
            w.join(timeout=5)
