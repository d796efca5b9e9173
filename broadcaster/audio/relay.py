"""Relaying a live programme (tiếp sóng): the source's audio levelled on the fly, the fallback while
it is down, reconnection with back-off, and exactly the slot's length with a fade at the end.

``RelayFeeder`` stands where a file's feeder stands in the player: a thread filling the queue
the sound card's callback takes from. Where the audio comes from is given as two functions that
open an ``Upstream`` (``files.StreamDecoder`` for a web stream or a file, ``player.InputUpstream``
for a line-in).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import numpy as np

from broadcaster.i18n import _

BLOCK = 4096                 # frames
QUEUE_SECONDS = 3.0          # audio ready ahead of the sound card
PRIME_SECONDS = 1.0          # a (re)connected source must have sent this much before it goes on the air
FADE_IN = 0.3                # seconds, at the start and at every switch
FADE_OUT = 2.0               # seconds, at the slot's end
SILENT_DBFS = -50.0          # quieter than this, a source counts as silent
BACKOFF = (1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 30.0)  # seconds between reconnection tries


class Leveller:
    """A slow automatic gain towards a loudness target, for live sources of any level: the K-weighted
    loudness of the last seconds (silence left out) sets where the gain goes, at most ``slew`` dB a
    second; a peak that would pass the ceiling lowers it at once."""

    def __init__(self, rate: int, channels: int, target_lufs: float, ceiling_dbtp: float, *,
                 window: float = 3.0, slew: float = 1.0, most: float = 18.0):
        self.rate, self.channels = rate, channels
        self.target, self.window, self.slew, self.most = target_lufs, window, slew, most
        self.ceiling = 10 ** (ceiling_dbtp / 20)
        from broadcaster.audio.meter import KFilter   # scipy: loaded only where a relay plays
        self.k = KFilter(rate)
        self.state = [self.k.zero() for _c in range(channels)]
        self.energy: float | None = None
        self.gain_db: float | None = None

    def _measure(self, block: np.ndarray) -> float | None:
        """Mean square of the K-weighted block (channels summed), or None if it is silent."""
        total = 0.0
        for c in range(self.channels):
            y, self.state[c] = self.k(block[:, c].astype(np.float64), self.state[c])
            total += float(np.mean(y * y))
        return total if total > 10 ** ((SILENT_DBFS + 0.691) / 10) else None

    def _wanted(self) -> float:
        lufs = -0.691 + 10 * math.log10(self.energy)
        return max(-self.most, min(self.most, self.target - lufs))

    def prime(self, blocks: list[np.ndarray]) -> None:
        """Set the gain from the first audio at once, so a loud station is not loud for seconds."""
        for b in blocks:
            ms = self._measure(b)
            if ms is not None:
                self.energy = ms if self.energy is None else 0.8 * self.energy + 0.2 * ms
        if self.energy is not None:
            self.gain_db = self._wanted()

    def __call__(self, block: np.ndarray) -> np.ndarray:
        n = len(block)
        ms = self._measure(block)
        if ms is not None:
            a = math.exp(-n / (self.window * self.rate))
            self.energy = ms if self.energy is None else a * self.energy + (1 - a) * ms
        old = self.gain_db if self.gain_db is not None else 0.0
        new = old
        if self.energy is not None:
            step = self.slew * n / self.rate
            new = old + max(-step, min(step, self._wanted() - old)) if self.gain_db is not None else self._wanted()
        peak = float(np.abs(block).max()) if n else 0.0
        if peak * 10 ** (new / 20) > self.ceiling:
            new = 20 * math.log10(self.ceiling / peak)
            old = min(old, new)      # attack at once: the whole block, not a ramp into the peak
        self.gain_db = new
        g = np.linspace(10 ** (old / 20), 10 ** (new / 20), n, dtype=np.float32)
        return block * g[:, None]


def silent(block: np.ndarray) -> bool:
    return float(np.sqrt(np.mean(block * block))) < 10 ** (SILENT_DBFS / 20)


def put_until(blocks: queue.Queue, item, stop: threading.Event) -> bool:
    """Put ``item`` in a bounded queue, waiting for room unless ``stop`` is set; False if it was."""
    while not stop.is_set():
        try:
            blocks.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False


class Upstream:
    """Where a relay's audio comes from: blocks waiting in ``blocks``; ``ended`` says why it stopped."""

    rate: int
    block: int
    blocks: queue.Queue
    ended: str | None = None

    def read(self, timeout: float) -> np.ndarray | None:
        """The next block, or None if none came within ``timeout`` seconds (see ``ended``)."""
        try:
            return self.blocks.get(timeout=timeout)
        except queue.Empty:
            return None

    def buffered(self) -> float:
        """Seconds of audio waiting."""
        return self.blocks.qsize() * self.block / self.rate

    def close(self) -> None:
        raise NotImplementedError


@dataclass
class Span:
    start: int      # frame of the relay where it begins
    kind: str       # relay | fallback


class RelayFeeder(threading.Thread):
    """Makes exactly ``seconds`` of audio for the player: the source, levelled; the fallback (or
    silence) while the source is down, trying it again with back-off; a fade-out at the end."""

    def __init__(self, connect: Callable[[], object], fallback: Callable[[], object] | None, *, rate: int,
                 channels: int, seconds: float, timeout: float, target_lufs: float, ceiling_dbtp: float,
                 volume: float = 1.0, clock: Callable[[], float] = time.monotonic):
        super().__init__(daemon=True, name="relay feeder")
        self.rate, self.channels = rate, channels
        self.frames = max(0, int(seconds * rate))
        self.timeout = timeout
        self.volume = np.float32(volume)
        self.clock = clock
        self.blocks: queue.Queue = queue.Queue(maxsize=max(2, int(QUEUE_SECONDS * rate / BLOCK)))
        self.stop_flag = threading.Event()
        self.error: str | None = None
        self.spans: list[Span] = []
        self.events: list[str] = []          # what happened to the source, with the time of day
        self.leveller = Leveller(rate, channels, target_lufs, ceiling_dbtp)
        self._connect, self._open_fallback = connect, fallback
        self.upstream = self._try(connect)   # connected now: ahead of the start, so it starts on time
        self._fallback = None
        self._made = 0
        self._fade_in = 0

    # --- what the log says afterwards -----------------------------------------------------------
    def tally(self, played_frames: int) -> tuple[float, float]:
        """(seconds relayed, seconds of fallback or silence) in the first ``played_frames``."""
        out = {"relay": 0, "fallback": 0}
        for i, s in enumerate(self.spans):
            end = min(played_frames, self.spans[i + 1].start if i + 1 < len(self.spans) else self.frames)
            out[s.kind] += max(0, end - s.start)
        return out["relay"] / self.rate, out["fallback"] / self.rate

    # --- the thread ------------------------------------------------------------------------------
    def _try(self, opener):
        try:
            return opener()
        except Exception as e:   # ffmpeg missing, device gone: the same as a source that does not answer
            self._note(_("the source cannot be opened: {reason}", reason=getattr(e, "message", e)))
            return None

    def discard(self) -> None:
        """Never started (its output could not be opened): let the source go."""
        self.stop_flag.set()
        if self.upstream is not None:
            self.upstream.close()

    def _no_data(self) -> str:
        return _("no sound data for {seconds} s", seconds=f"{self.timeout:g}")

    def _note(self, text: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        if not self.events or not self.events[-1].endswith(text):
            self.events.append(f"{stamp} {text}")

    def run(self) -> None:
        try:
            self._run()
        except Exception as e:   # never leave the sound card waiting: end the airing with the reason
            self.error = _("the relay stopped: {reason}", reason=e)
        finally:
            for up in (self.upstream, self._fallback):
                if up is not None:
                    up.close()
            put_until(self.blocks, None, self.stop_flag)   # the end marker

    def _run(self) -> None:
        why = self._primed(self.upstream, first=True) if self.upstream is not None else None
        on_air = self.upstream is not None and why is None
        if not on_air:
            self._down(self.upstream, reason=why, first=True)
        tries, next_try, tried_at = 0, self.clock() + BACKOFF[0], 0.0
        last_data, silent_since = self.clock(), None
        while self._made < self.frames and not self.stop_flag.is_set():
            now = self.clock()
            if on_air:
                block = self.upstream.read(0.1)
                if block is None:
                    if self.upstream.ended or now - last_data > self.timeout:
                        self._down(self.upstream)
                        on_air, tries, next_try = False, 0, now + BACKOFF[0]
                    continue
                last_data = now
                silent_since = (silent_since or now) if silent(block) else None
                if silent_since is not None and now - silent_since > self.timeout:
                    self._down(self.upstream, reason=_("the source has been silent for {seconds} s",
                                                       seconds=f"{self.timeout:g}"))
                    on_air, tries, next_try, silent_since = False, 0, now + BACKOFF[0], None
                    continue
                self._emit(self.leveller(block), "relay")
                continue
            # down: the fallback goes out while the source is tried again
            if self.upstream is None and now >= next_try:
                self.upstream, tried_at = self._try(self._connect), now
                tries += 1
            if self.upstream is not None:
                why = self._primed(self.upstream) if self.upstream.buffered() >= PRIME_SECONDS else None
                if self.upstream.buffered() >= PRIME_SECONDS and why is None:
                    self._note(_("the source is back: relaying again"))
                    on_air, last_data, silent_since = True, self.clock(), None
                    continue
                if self.upstream.ended or now - tried_at > self.timeout:
                    self._down(self.upstream, reason=self.upstream.ended or why)
                    next_try = self.clock() + BACKOFF[min(tries, len(BACKOFF) - 1)]
            self._emit(self._fallback_block(), "fallback")

    def _primed(self, up, first: bool = False) -> str | None:
        """Wait (at the start, up to the timeout) for a second of the source and level from it: None,
        or why it cannot go on the air (nothing came, or it is silent)."""
        deadline = self.clock() + (self.timeout if first else 0.0)
        while up.buffered() < PRIME_SECONDS and not up.ended and self.clock() < deadline \
                and not self.stop_flag.is_set():
            time.sleep(0.05)
        waiting = list(up.blocks.queue)
        if not waiting or sum(len(b) for b in waiting) < PRIME_SECONDS * self.rate * 0.5:
            return up.ended or self._no_data()
        if all(silent(b) for b in waiting):
            return _("the source is silent")
        self.leveller.prime(waiting)
        self._fade_in = int(FADE_IN * self.rate)
        return None

    def _down(self, up, *, reason: str | None = None, first: bool = False) -> None:
        if up is not None:
            up.close()
            reason = reason or up.ended or self._no_data()
        if reason:
            self._note(reason)
        self.upstream = None
        self._fade_in = int(FADE_IN * self.rate)
        if self._fallback is None and self._open_fallback is not None:
            self._fallback = self._try(self._open_fallback)

    def _fallback_block(self) -> np.ndarray:
        fb = self._fallback
        block = fb.read(0.2) if fb is not None and not fb.ended else None
        if block is None:
            if fb is not None and fb.ended:
                self._fallback = None
            return np.zeros((BLOCK, self.channels), np.float32)
        return block

    def _emit(self, block: np.ndarray, kind: str) -> None:
        block = block[: self.frames - self._made]
        n = len(block)
        if not n:
            return
        if not self.spans or self.spans[-1].kind != kind:
            self.spans.append(Span(self._made, kind))
        gain = np.ones(n, np.float32)
        if self._fade_in > 0:
            total = int(FADE_IN * self.rate)
            done = total - self._fade_in
            gain *= np.clip((done + np.arange(n)) / total, 0, 1)
            self._fade_in -= n
        tail = self.frames - int(FADE_OUT * self.rate)
        if self._made + n > tail:
            gain *= np.clip((self.frames - (self._made + np.arange(n))) / (FADE_OUT * self.rate), 0, 1)
        data = (block * (gain * self.volume)[:, None]).astype(np.float32)
        self._made += n
        put_until(self.blocks, data, self.stop_flag)
