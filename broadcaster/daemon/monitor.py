"""Proof of air: each monitored zone's input, heard all the time, against what the zone sent.

A zone with ``monitor = "NAME"`` has one input opened by the daemon for as long as it runs,
reduced block by block to 20 ms envelope frames (``audio.proof``). While an airing plays, the
blocks the output sends are reduced the same way (a tap in the output's callback); when it is
over (and the monitor has had time to hear its end), the two are matched and the play log row
gets ``confirmed``, ``partial`` (and where sound stopped), ``unheard`` or ``unchecked``. Dead air
during an airing and sound on the line when nothing plays raise alerts at once. A monitor that
cannot be opened, or stops sending, is an alert too; airings never fail because of it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import numpy as np

from broadcaster.audio.proof import MAX_DELAY, MIN_DELAY, MIN_LENGTH, Envelope, Match, SampleClock, dbfs, match
from broadcaster.errors import BroadcasterError
from broadcaster.i18n import _
from broadcaster.daemon.alerts import Alerts
from broadcaster.daemon.outputs import Outputs
from broadcaster.daemon.parts import Part
from broadcaster.records.playlog import HEARD_WORDS

log = logging.getLogger("broadcaster.daemon")

HISTORY = 3700.0     # seconds of the monitor's envelope kept (a relay of up to an hour is checked whole)
STALLED = 3.0        # seconds without a block from the monitor: it is not working
RETRY = 10.0         # seconds between tries to open a monitor that could not be opened
TICK = 0.25


class Watch:
    """One airing on a monitored zone: what was sent, as the output sent it."""

    def __init__(self, zone: str, label: str, rate: int, seconds: float):
        self.zone, self.label = zone, label
        self.sent = Envelope(rate, seconds + 30)
        self.blocks: queue.SimpleQueue = queue.SimpleQueue()
        self.row: int | None = None
        self.ended: float | None = None    # wall-clock time the airing was over
        self.unavailable: str | None = None   # why the monitor could not hear part of it
        self.first: float | None = None        # wall-clock time of the first block sent
        self.count = 0                          # samples sent so far

    def tap(self, block, first_sample_time: float) -> None:
        """Called from the output's callback: only a queue put there."""
        self.blocks.put((block, first_sample_time))

    def drain(self) -> None:
        blocks = []
        while True:
            try:
                block, t = self.blocks.get_nowait()
            except queue.Empty:
                break
            self.first = self.first if self.first is not None else t
            blocks.append(block)
        if blocks:
            data = np.concatenate(blocks)
            self.sent.feed(data, self.first + self.count / self.sent.rate)   # the output's clock runs evenly
            self.count += len(data)


class ZoneMonitor(threading.Thread):
    def __init__(self, parts: "Monitors", zone: str, device: str):
        super().__init__(name=f"monitor {zone}", daemon=True)
        self.p, self.zone, self.device = parts, zone, device
        self.d = parts.d
        self.stopping = threading.Event()
        self.input = None
        self.clock = SampleClock(self.d.cfg.audio.sample_rate)
        self.next_try = 0.0
        self.problem: str | None = None
        self.heard = Envelope(self.d.cfg.audio.sample_rate, HISTORY)
        self.seen = 0                   # heard frames already looked at
        self.last_sound: float | None = None
        self.loud_since: float | None = None
        self.last_loud: float | None = None
        self.last_end = 0.0             # wall time the zone's last airing ended
        self.watch: Watch | None = None
        self.pending: list[Watch] = []
        self.lock = threading.Lock()
        self.raised: set[str] = set()   # the kinds of alert this monitor has raised and not cleared

    # --- called by the zone's worker ----------------------------------------------------------

    def begin(self, watch: Watch) -> None:
        with self.lock:
            self.watch = watch
            self.loud_since = None
        self._clear("unexpected", _("an airing began"))

    def end(self, watch: Watch) -> None:
        with self.lock:
            watch.ended = time.time()
            if self.watch is watch:
                self.watch = None
            self.last_end = watch.ended
            if watch.row is not None:
                watch.unavailable = watch.unavailable or (self.problem if self.input is None else None)
                self.pending.append(watch)
        self._clear("dead_air", _("the airing ended"))

    # --- the monitor's own thread ------------------------------------------------------------

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._step()
            except Exception:   # never let the monitor take anything else down
                log.exception(_("zone {zone}: the monitor failed; trying again", zone=self.zone))
                self._close()
                self.stopping.wait(RETRY)
        self._close()

    def _step(self) -> None:
        now = time.time()
        if self.input is None and now >= self.next_try:
            self._open(now)
        self.stopping.wait(TICK)   # a quarter of a second of blocks at a time: numpy's cost is per call
        if self.input is not None:
            self._feed(self.input.take(0))
            if self.input.ended:
                self._close()
                self.next_try = time.time() + 1.0   # closed for a device refresh: open it again soon
            elif time.monotonic() - self.input.last > STALLED:
                self._lost(_("the monitor input sends nothing (suspended, unplugged or in use?)"))
        with self.lock:
            watch = self.watch
            if watch is not None:
                watch.drain()
                if self.input is None:
                    watch.unavailable = watch.unavailable or self.problem
        self._levels(watch, time.time())
        self._verdicts(time.time())

    def _feed(self, blocks: list) -> None:
        """The monitor's blocks into its envelope, in runs of unbroken samples."""
        run: list = []
        start = 0.0
        for block, arrived, lost in blocks:
            t = self.clock.stamp(len(block), arrived, lost)
            if lost and run:
                self.heard.feed(np.concatenate(run), start)
                run = []
            if not run:
                start = t
            run.append(block)
        if run:
            self.heard.feed(np.concatenate(run), start)

    def _open(self, now: float) -> None:
        try:
            self.input = self.p.outputs.open_monitor(self.device, self.d.cfg.audio.sample_rate)
            self.clock = SampleClock(self.d.cfg.audio.sample_rate)
        except BroadcasterError as e:
            self.next_try = now + RETRY
            if self.problem != str(e):
                self.problem = str(e)
                self._raise("monitor", _("{reason}; airings go on unconfirmed", reason=e))
            return
        self.problem = None
        self._clear("monitor", _("the monitor is back"))

    def _lost(self, why: str) -> None:
        self._close()
        self.problem = why
        self.next_try = time.time() + 2.0
        self._raise("monitor", _("{reason}; airings go on unconfirmed", reason=why))

    def _close(self) -> None:
        if self.input is not None:
            self.p.outputs.close_monitor(self.input)
            self.input = None

    def _levels(self, watch: Watch | None, now: float) -> None:
        """Dead air while an airing plays; sound on the line while none does."""
        s = self.d.cfg.monitor
        new = self.heard.track.n - self.seen
        self.seen = self.heard.track.n
        t, _band, full = self.heard.track.tail(new)
        level = dbfs(full)
        sound = t[level > s.silence]
        if len(sound):
            self.last_sound = float(sound[-1])
        if watch is not None and watch.sent.track.n:
            self._dead_air(watch, now)
        elif s.unexpected and now - self.last_end > s.margin + MAX_DELAY:
            self._unexpected(t, level, now)

    def _dead_air(self, watch: Watch, now: float) -> None:
        s = self.d.cfg.monitor
        since = max(self.last_sound or 0.0, watch.first)
        if now - since <= s.dead_air:
            self._clear("dead_air", _("sound is heard again"))
        elif self.input is not None and "dead_air" not in self.raised:   # raised once, with its `since`
            st, _band, sent_full = watch.sent.track.span(since, now - MAX_DELAY)
            if len(st) and (dbfs(sent_full) > s.silence).mean() >= 0.3:   # it sent sound that should have been heard
                self._raise("dead_air", _("nothing heard on the monitor for {seconds} s while {item} plays",
                                          seconds=f"{now - since:.0f}", item=watch.label))

    def _raise(self, kind: str, detail: str) -> None:
        self.raised.add(kind)
        self.p.alerts.raise_(self.zone, kind, detail)

    def _clear(self, kind: str, why: str) -> None:
        if kind in self.raised:
            self.raised.discard(kind)
            self.p.alerts.clear(self.zone, kind, why)

    def _unexpected(self, t, level, now: float) -> None:
        s = self.d.cfg.monitor
        for ti, loud in zip(t, level > s.unexpected_level):
            if loud:
                self.loud_since = self.loud_since or float(ti)
                self.last_loud = float(ti)
            elif self.loud_since is not None and ti - (self.last_loud or ti) > 1.0:
                self.loud_since = None
        if self.loud_since is not None and now - self.loud_since > s.unexpected_after:
            if "unexpected" not in self.raised:   # raised once, with its `since`
                self._raise("unexpected", _("sound on the line for {seconds} s while nothing is scheduled",
                                            seconds=f"{now - self.loud_since:.0f}"))
        elif self.loud_since is None:
            self._clear("unexpected", _("the line is quiet again"))

    def _verdicts(self, now: float) -> None:
        with self.lock:
            due = [w for w in self.pending if now > w.ended + MAX_DELAY + 0.5]
            self.pending = [w for w in self.pending if w not in due]
        for w in due:
            w.drain()
            sent = w.sent.track.span(0, float("inf"))
            if not len(sent[0]):
                continue
            heard = self.heard.track.span(float(sent[0][0]) + MIN_DELAY - 1, float(sent[0][-1]) + MAX_DELAY + 1)
            m = match(sent, heard)
            note = describe(m, w.unavailable)
            self.d.journal.heard(w.row, m.verdict, m.delay_ms, m.score, note)
            (log.info if m.verdict == "confirmed" else log.warning)(
                _("zone {zone}: {item} {verdict} on the monitor", zone=self.zone, item=w.label,
                  verdict=_(HEARD_WORDS[m.verdict])) + (f" ({note})" if note else "")
                + (_(", heard {ms} ms later", ms=f"{m.delay_ms:.0f}") if m.delay_ms is not None else ""))


def describe(m: Match, unavailable: str | None) -> str | None:
    """The play log's note on what the monitor heard."""
    if m.verdict == "unchecked":
        if unavailable:
            return unavailable
        if m.length < MIN_LENGTH:
            return _("too short to compare (under {seconds} s)", seconds=f"{MIN_LENGTH:.0f}")
        return _("the monitor sent nothing while it played")
    if m.verdict == "unheard":
        return _("the monitor did not hear it") + (f" ({unavailable})" if unavailable else "")
    if m.stopped_at is not None:
        return _("sound stopped at {at} of {length}", at=clock(m.stopped_at), length=clock(m.length))
    if m.missing:
        return _("not heard: {spans}", spans=", ".join(f"{clock(a)}–{clock(b)}" for a, b in m.missing))
    return None


def clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


class Monitors(Part):
    """One monitor thread per served zone that has ``monitor = "NAME"``."""

    name = "monitors"

    def __init__(self, daemon):
        super().__init__(daemon)
        self.zones: dict[str, ZoneMonitor] = {}
        self.outputs: Outputs | None = None
        self.alerts: Alerts | None = None

    def start(self) -> None:
        self.outputs, self.alerts = self.d.get(Outputs), self.d.get(Alerts)
        self._sync()

    def reload(self, old, new) -> None:
        if new != old:
            self._sync()

    def _sync(self) -> None:
        wanted = {z: self.d.cfg.zones[z].monitor for z in self.d.served
                  if z in self.d.cfg.zones and self.d.cfg.zones[z].monitor}
        for z, m in list(self.zones.items()):
            if wanted.get(z) != m.device:
                m.stop()
                m.join(timeout=5)
                del self.zones[z]
                self.alerts.clear(z, "monitor", _("the monitor was taken out of the configuration"))
        for z, device in wanted.items():
            if z not in self.zones:
                self.zones[z] = ZoneMonitor(self, z, device)
                self.zones[z].start()

    def stop(self) -> None:
        for m in self.zones.values():
            m.stop()
        for m in self.zones.values():
            m.join(timeout=5)

    def prepare(self, zone: str, pb, label: str) -> Watch | None:
        """A watch on an airing attached to ``zone``'s output (None if the zone has no monitor): what it
        sends is kept from its first sample on, even if that comes before ``begin``."""
        m = self.zones.get(zone)
        if m is None:
            return None
        watch = Watch(zone, label, pb.rate, pb.duration if pb.duration else 3600)
        pb.tap = watch.tap
        return watch

    def begin(self, watch: Watch | None) -> None:
        """The watched airing is the zone's current one now."""
        if watch is not None and watch.zone in self.zones:
            self.zones[watch.zone].begin(watch)

    def end(self, watch: Watch | None) -> None:
        if watch is not None and watch.zone in self.zones:
            self.zones[watch.zone].end(watch)
