"""A zone's worker: plays one airing at a time, highest priority first, on the exact instant.

Items (airings waiting to play) come from the planner and from `play` requests. Each is prepared LEAD
seconds ahead on the zone's output stream, open while airings follow each other: the next is attached
behind the one playing with its own start time, so back-to-back airings start on their own sample and
lateness never carries over. What plays fades out for an urgent item, a stop or a shutdown; each
airing's row is written before its first sample."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING

from broadcaster.errors import BroadcasterError
from broadcaster.i18n import _
from broadcaster.daemon.monitor import Monitors
from broadcaster.daemon.outputs import Busy, Outputs
from broadcaster.daemon.parts import Part
from broadcaster.records.playlog import STATUS_WORDS
from broadcaster.daemon.items import Flight, Item, outcome
from broadcaster.daemon.renderer import Renderer

if TYPE_CHECKING:
    from broadcaster.daemon.daemon import Daemon

log = logging.getLogger("broadcaster.daemon")

LEAD = 3.0            # seconds before its time an airing is prepared
ROW_AHEAD = 0.3       # the play log row is committed this long before the first sample (fsync takes time)
URGENT_FADE = 0.5     # seconds: what an urgent airing cuts into fades out over this, ending on its time
START_ERROR_WARN_MS = 50  # a first sample further than this from its time is worth a warning in the log
TICK = 0.05           # seconds between looks at what plays (progress, urgent items, the next one to prepare)
PULSE = 5.0           # seconds an idle worker waits at most before it goes round its loop again
LINGER = 0.5          # the stream stays open while an airing is due within LEAD + LINGER s (not longer:
# PulseAudio or PipeWire move an open stream elsewhere when its card is pulled out: docs/reliability.md)


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
        self.upcoming: Item | None = None    # the airing attached behind the current one
        self.cut: tuple[str, str] | None = None  # (status, reason) when an airing is ended early
        self.stopping = False
        self.pulse = time.monotonic()   # when its loop last went round (the watchdog's sign it is not stuck)
        self.outputs = daemon.get(Outputs)
        self.renderer = daemon.get(Renderer)
        self.monitors = daemon.get(Monitors)

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
            waiting = [e[2] for e in self.heap] + ([self.upcoming] if self.upcoming else [])
            due = [it for it in waiting if it.priority == "urgent" and it.scheduled.timestamp() - URGENT_FADE <= now]
            if due:
                self.cut = ("interrupted", _("interrupted by the urgent {item}", item=due[0].label))
                self.playback.fade_out(URGENT_FADE)

    def _urgent_waiting(self) -> bool:
        with self.cv:
            now = self.d.clock.wall()
            return any(e[2].priority == "urgent" and e[2].scheduled.timestamp() - LEAD <= now for e in self.heap)

    def take(self, which, cut: str | None = None) -> list[Item]:
        """Take back the waiting items (not yet prepared) that ``which(item)`` chooses; with ``cut``, also fade
        out the playing one if it is one of them (logged interrupted, ``cut`` saying why)."""
        with self.cv:
            taken = [e[2] for e in self.heap if which(e[2])]
            self.heap = [e for e in self.heap if not which(e[2])]
            heapq.heapify(self.heap)
            if cut and self.current is not None and which(self.current) and self.playback is not None and not self.cut:
                self.cut = ("interrupted", cut)
                self.playback.fade_out(URGENT_FADE)
                self.cv.notify_all()
            return taken

    def stop(self) -> None:
        with self.cv:
            self.stopping = True
            if self.playback is not None:
                self.cut = ("interrupted", _("the daemon was stopped"))
                self.playback.fade_out(0.3)
            self.cv.notify_all()

    def _next_due(self, ready=None) -> tuple[Item | None, float]:
        """The item to prepare now (best priority among those due, and ``ready`` if given), or how long to wait."""
        now = self.d.clock.wall()
        due = [e for e in self.heap if e[2].scheduled.timestamp() - LEAD <= now and (ready is None or ready(e[2]))]
        if due:
            best = min(due)
            self.heap.remove(best)
            heapq.heapify(self.heap)
            return best[2], 0.0
        wait = min((e[2].scheduled.timestamp() - LEAD - now for e in self.heap), default=0.5)
        return None, max(0.01, min(0.5, wait))

    def _close_when_idle(self) -> None:
        """Close the zone's stream once nothing plays and nothing is due soon (called holding ``cv``)."""
        out = self.outputs.stream_of(self.zone)
        if out is None or not out.idle or (out.last_end or 0) > time.time():
            return   # playing, or the end of the last airing is still on its way to the loudspeakers
        now = self.d.clock.wall()
        if not any(e[2].scheduled.timestamp() - now < LEAD + LINGER for e in self.heap):
            self.outputs.close_stream(self.zone)

    def run(self) -> None:
        while True:
            with self.cv:
                item = None
                while not self.stopping:
                    self.pulse = time.monotonic()
                    item, wait = self._next_due()
                    if item:
                        break
                    self._close_when_idle()
                    self.cv.wait(min(wait, PULSE))
                if self.stopping:
                    break
            try:
                flight = self._prepare(item, None)
                while flight is not None:
                    flight = self._air(flight)
            except Exception:  # never let one airing take the zone down
                log.exception(_("zone {zone}: unexpected error while airing {item}", zone=self.zone, item=item.label))
        self.outputs.close_stream(self.zone)

    # --- one airing ---------------------------------------------------------------------------

    def _real(self, wall: float) -> float:
        """A time of the daemon's clock on the real clock, which the stream runs on."""
        return wall + (time.time() - self.d.clock.wall())

    def _prepare(self, item: Item, before: Flight | None) -> Flight | None:
        """Attach ``item`` to the zone's stream, held until its row is written; None if it failed (logged)."""
        d = self.d
        follows = item.after(before.item) if before is not None else None
        try:
            if item.ends is not None:
                start = max(item.scheduled.timestamp(), d.clock.wall() + 0.2)
                source, pb = self._open_relay(item, start)
                if pb is None:
                    return None
                path, sha, target = source.url or source.device, None, self._real(start)
            elif item.live is not None:   # a voice: on the air as soon as its row is written
                pb, path, sha, target = self.outputs.open(self.zone, item.live), item.bulletin, None, time.time() + 0.1
            else:
                path, sha = self.renderer.audio_for(item)
                pb = self.outputs.open(self.zone, path, follows=follows)
                if follows is not None:
                    target = None
                elif item.request is not None or item.resume:
                    target = time.time() + 0.2   # as soon as it can (no slot to be late for)
                else:
                    target = self._real(item.scheduled.timestamp())
        except Busy:
            raise   # only while another airing plays: the caller puts it back until that one has ended
        except BroadcasterError as e:
            self._failed(item, e.message + (f" ({e.hint})" if e.hint else ""))
            return None
        pb.hold()  # not a sample before the row is committed: a crash can never make an unlogged airing
        try:
            pb.start_at(target)
        except BroadcasterError as e:
            self.outputs.release(pb)
            self._failed(item, e.message)
            return None
        return Flight(item, pb, str(path), sha, self.monitors.prepare(self.zone, pb, item.label))

    def _write_row(self, f: Flight) -> bool:
        """Commit ``f``'s play log row and let its audio go; False if it has one already (not played twice)."""
        d = self.d
        due = f.due() or f.expected_end()
        started = datetime.fromtimestamp(due - (time.time() - d.clock.wall()), d.tz)
        f.row = d.journal.start(scheduled=f.item.scheduled, zone=self.zone, bulletin=f.item.bulletin,
                                audio=f.path, audio_sha256=f.sha, priority=f.item.priority, slot=f.item.slot,
                                request=f.item.request, started=started, command=f.item.command)
        if f.row is None:
            log.warning(_("zone {zone}: {item} at {time} already has a log row; not playing it twice",
                          zone=self.zone, item=f.item.label, time=f.item.scheduled.strftime("%H:%M:%S")))
            return False
        if f.watch is not None:
            f.watch.row = f.row
        f.pb.arm()
        return True

    def _air(self, f: Flight) -> Flight | None:
        """Play ``f`` to its end, attaching the next due airing behind it; that next one, if any."""
        d = self.d
        item, pb = f.item, f.pb
        with self.cv:
            if self.stopping:
                self._drop(f)
                return None
            self.current, self.playback, self.cut = item, pb, None
        self.monitors.begin(f.watch)
        if f.row is None:
            due = f.due() or time.time()
            with self.cv:   # until just before it is due, or a stop: one that came first is never begun
                self.cv.wait_for(lambda: self.stopping, max(0.0, due - ROW_AHEAD - time.time()))
                stopped = self.stopping
            if stopped:
                self._release(f)   # held, never begun: no row, nothing played
                return None
            if not self._write_row(f):
                self._release(f)
                return None
        log.info(_("zone {zone}: playing {item} (scheduled {time})", zone=self.zone, item=item.label,
                   time=item.scheduled.strftime("%H:%M:%S")))
        limit = pb.duration + 30 if pb.rate else 3600
        t0, measured, nxt = time.monotonic(), False, None
        while not pb.wait(TICK):
            self.pulse = time.monotonic()
            measured = measured or self._measured_start(f)
            self._cut_for_urgent()
            nxt = self._ahead(f, nxt)
            if time.monotonic() - t0 > limit + LEAD:
                self.cut = self.cut or ("failed", _("the sound output stopped playing"))
                break
        if not measured:
            self._measured_start(f)
        self._finish(f)
        self._release(f)
        if nxt is not None and (self.stopping or (nxt.pb.finished.is_set() and nxt.pb.started_at is None)):
            if not self.stopping:
                self._failed_flight(nxt, nxt.pb.error or _("the sound output stopped playing"))
            self._drop(nxt)
            nxt = None
        return nxt

    def _ahead(self, cur: Flight, nxt: Flight | None) -> Flight | None:
        """While ``cur`` plays: attach the next due airing behind it, and commit its row just before it starts."""
        if self.stopping:
            return nxt
        if nxt is None:
            if cur.wait_for_end:
                return None
            ends = self.d.clock.wall() + (cur.expected_end() - time.time())

            def ready(it: Item) -> bool:
                # a relay that would have to wait for this airing is connected once it has ended, so that
                # it starts with the live stream, not with what it buffered meanwhile
                return it.ends is None or not (it.resume or it.scheduled.timestamp() < ends)
            with self.cv:
                item, _wait = self._next_due(ready)
            if item is None:
                return None
            try:
                nxt = self._prepare(item, cur)
            except Busy:   # audio of another rate or channel count: opened once ``cur`` has ended
                self.submit(item)
                cur.wait_for_end = True   # not opened and put back again every tick meanwhile
                return None
            with self.cv:
                self.upcoming = nxt.item if nxt else None
            return nxt
        if nxt.row is None:
            if nxt.item.priority != "urgent" and self._urgent_waiting():
                self._drop(nxt)   # an urgent airing came after it was attached: that one goes first
                self.submit(nxt.item)
                return None
            due = nxt.due() or cur.expected_end() + (nxt.pb.follows or 0.0)
            if time.time() >= due - ROW_AHEAD and not self._write_row(nxt):
                self._drop(nxt)
                return None
        return nxt

    def _release(self, f: Flight) -> None:
        self.monitors.end(f.watch)
        with self.cv:
            if self.current is f.item:
                self.current, self.playback = None, None
            if self.upcoming is f.item:
                self.upcoming = None
        self.outputs.release(f.pb)

    def _drop(self, f: Flight) -> None:
        """An attached airing that will not play (the daemon stops, or an urgent one goes first)."""
        if f.row is not None:
            self.d.journal.finish(f.row, "interrupted", self.d.clock.now(), _("the daemon was stopped"))
        f.row = None
        with self.cv:
            if self.upcoming is f.item:
                self.upcoming = None
        self.outputs.release(f.pb)

    def _finish(self, f: Flight) -> None:
        """The airing's row: how it ended, and why."""
        d, item, pb = self.d, f.item, f.pb
        ended = d.clock.now()
        relay = self._relay_outcome(item, pb) if item.ends is not None else None
        status, reason, dropouts = outcome(item, pb, self.cut, relay)
        if dropouts:
            log.warning(_("zone {zone}: {item}: {count} dropout(s) on the air", zone=self.zone, item=item.label,
                          count=dropouts))
        d.journal.finish(f.row, status, ended, reason, relayed_s=relay[0] if relay else None,
                         fallback_s=relay[1] if relay else None, dropouts=dropouts)
        if item.request is not None:
            d.journal.finish_request(item.request, "done" if status in ("played", "late") else status, reason, f.row)
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

    def _measured_start(self, f: Flight) -> bool:
        """The log's ``started`` becomes when the first sample left the output (PortAudio's DAC time of
        that block), and ``start_error_ms`` how far that was from when it was due: its slot's time, or
        for a request or what follows another in a sequence, the instant it could start. False until
        it has left."""
        error = f.pb.start_error()
        if error is None or f.row is None:
            return False
        started = f.pb.started_at - (time.time() - self.d.clock.wall())
        self.d.journal.measured_start(f.row, datetime.fromtimestamp(started, self.d.tz), error * 1000)
        if abs(error) * 1000 > START_ERROR_WARN_MS:
            log.warning(_("zone {zone}: the first sample left {ms} ms from its time", zone=self.zone,
                          ms=f"{error * 1000:+.0f}"))
        return True

    def _failed_flight(self, f: Flight, reason: str) -> None:
        if f.row is not None:
            self.d.journal.finish(f.row, "failed", self.d.clock.now(), reason)
            f.row = None
            if f.item.request is not None:
                self.d.journal.finish_request(f.item.request, "failed", reason)
        else:
            self._failed(f.item, reason)

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
        self.workers.setdefault(zone, ZoneWorker(self.d, zone)).start()

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
