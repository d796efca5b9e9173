"""Live voice (phát trực tiếp): a speaker's audio as it arrives, in 20-ms frames numbered from 0, played
on each zone through a jitter buffer, with a fade in, a fade out when the voice stops coming (a link
lost), again when it comes back, and at the end.

``LiveStream`` is one speaker's session at the daemon: frames go in (``put``), each zone's
``LiveFeeder`` takes them out. A feeder stands where a file's feeder stands in the player: a thread
filling the small queue the sound card's callback takes from. It waits until ``target`` seconds of
voice are buffered before it starts (and after each gap), so frames that arrive unevenly play evenly;
the target grows when frames come late (a 3G/4G link) and shrinks back slowly when they come evenly.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from broadcaster.audio.relay import put_until
from broadcaster.i18n import _

WIRE_RATE = 16000            # the speaker's audio on the way: 16 kHz mono, 16-bit (speech)
FRAME = 320                  # samples per frame: 20 ms
FRAME_S = FRAME / WIRE_RATE
MAX_LIVE = 3600.0            # seconds a live voice may last
TARGET = 0.08                # seconds buffered before the voice goes on the air (a clean link)
MOST = 1.0                   # the jitter buffer never holds more than this (late frames beyond it are dropped)
FIRST_MOST = 4.0             # … but before the voice first goes on the air (a fade, a sound card opening):
                             # the first words are kept, and caught up with in the pauses
QUIET_FRAME = 0.01           # a frame quieter than this (RMS) is a pause: what a zone behind its target drops
QUIET_AFTER = 0.5            # seconds without a frame: the voice fades out (the link is counted lost)
GIVE_UP = 30.0               # seconds without a frame: the airing ends
CATCH_UP = 0.06              # a zone holding this much more than the target drops a frame (they stay together)


@dataclass
class Tally:
    aired: float = 0.0                       # seconds of voice played
    gaps: list[float] = field(default_factory=list)   # seconds of each silence while the link was lost
    late: int = 0                            # frames that came too late to play (dropped)
    skipped: int = 0                         # quiet frames left out to catch up (a pause made shorter)
    gave_up: bool = False                    # no voice came for GIVE_UP seconds: ended without the speaker


class LiveStream:
    """One speaker's session: who speaks, from where, and the frames, fanned out to each zone's feeder."""

    def __init__(self, who: str, where: str, *, clock=time.monotonic):
        self.who, self.where = who, where
        self.clock = clock
        self.feeders: list[LiveFeeder] = []
        self.lock = threading.Lock()
        self.ended = threading.Event()
        self.started = clock()
        self.anchor: tuple[int, float] | None = None   # (seq, arrival) of the earliest frame for its number
        self.jitter = 0.0
        self.last_put: float | None = None
        self.forwards: list = []   # where else the frames go as they come (put, end): the stations below

    def feeder(self, rate: int, channels: int, volume: float = 1.0, chime: np.ndarray | None = None) -> "LiveFeeder":
        """A zone's feeder; ``chime`` (mono samples at ``rate``) plays before the voice."""
        f = LiveFeeder(self, rate, channels, volume)
        f.chime = chime
        with self.lock:
            self.feeders.append(f)
        return f

    def put(self, seq: int, pcm: bytes) -> None:
        """A frame from the speaker: 16-bit little-endian samples at WIRE_RATE."""
        for f in self.forwards:
            f.put(seq, pcm)
        samples = np.frombuffer(pcm[:FRAME * 2], dtype="<i2").astype(np.float32) / 32768
        now = self.clock()
        with self.lock:
            last, self.last_put = self.last_put, now
            if self.anchor is None or (last is not None and now - last > QUIET_AFTER):
                self.anchor = (seq, now)   # the first, or the first after the link was lost: its backlog is no jitter
            else:   # how much later than the earliest frame says this one comes: the link's jitter
                delta = now - (self.anchor[1] + (seq - self.anchor[0]) * FRAME_S)
                if delta < 0:
                    self.anchor, delta = (seq, now), 0.0
                self.jitter = max(delta, self.jitter * 0.995)   # up at once, down slowly (~3 s to halve)
            for f in self.feeders:
                f.arrive(seq, samples, now)

    def target(self) -> float:
        """Seconds of voice every zone holds before it plays (the same on all: they stay together)."""
        return min(MOST * 0.8, max(TARGET, 2.5 * self.jitter))

    def end(self) -> None:
        if not self.ended.is_set():
            for f in self.forwards:
                f.end()
        self.ended.set()
        with self.lock:
            for f in self.feeders:
                f.wake.set()


class LiveFeeder(threading.Thread):
    """The speaker's voice for one zone, at the zone's rate: a feeder for ``playback.Playback``."""

    def __init__(self, stream: LiveStream, rate: int, channels: int, volume: float):
        super().__init__(daemon=True, name="live feeder")
        self.stream, self.rate, self.channels = stream, rate, channels
        self.volume = np.float32(volume)
        self.frames = int(MAX_LIVE * rate)   # at most; it ends when the speaker stops
        self.blocks: queue.Queue = queue.Queue(maxsize=3)   # ~60 ms ahead of the sound card: no more
        self.stop_flag = threading.Event()
        self.error: str | None = None
        self.chime: np.ndarray | None = None
        self.wake = threading.Event()
        self.pending: dict[int, np.ndarray] = {}
        self.next_seq: int | None = None
        self.target = TARGET
        self.most = FIRST_MOST    # MOST once the voice has caught up after its start
        self.last_arrival: float | None = None
        self.tally = Tally()
        self._last = np.float32(0.0)
        self.lock = threading.Lock()

    # --- from the receiving thread --------------------------------------------------------------
    def arrive(self, seq: int, samples: np.ndarray, now: float) -> None:
        with self.lock:
            if self.next_seq is not None and seq < self.next_seq:
                self.tally.late += 1   # its time has passed: dropped
                return
            self.pending[seq] = samples
            while len(self.pending) * FRAME_S > self.most:
                self.pending.pop(min(self.pending))
                self.tally.late += 1
            self.last_arrival = now
        self.wake.set()

    # --- the feeder's thread --------------------------------------------------------------------
    def discard(self) -> None:
        self.stop_flag.set()

    def buffered(self) -> float:
        return len(self.pending) * FRAME_S

    def run(self) -> None:
        try:
            self._run()
        except Exception as e:   # never leave the sound card waiting
            self.error = f"live: {e}"
        finally:
            put_until(self.blocks, None, self.stop_flag)

    def _run(self) -> None:
        clock = self.stream.clock
        if self.chime is not None:   # the chime first; what is said meanwhile is not kept (the speaker waits)
            for i in range(0, len(self.chime), 1024):
                block = (self.chime[i:i + 1024] * self.volume).astype(np.float32)
                if not put_until(self.blocks, np.repeat(block[:, None], self.channels, axis=1), self.stop_flag):
                    return
        on_air, fade_in = False, False
        quiet_since = clock()
        missing_since: float | None = None
        while not self.stop_flag.is_set():
            self.target = self.stream.target()
            with self.lock:
                have = self.buffered()
                nxt = self.pending.get(self.next_seq) if on_air else None
                if on_air and have <= self.target + CATCH_UP:
                    self.most = MOST   # caught up: from now on a short buffer
                quiet = nxt is not None and float(np.sqrt(np.mean(nxt * nxt))) < QUIET_FRAME
                if nxt is not None and have > self.target + CATCH_UP and (have > self.most * 0.9 or quiet):
                    # behind: catch up in the pauses between words (speech only when the buffer is full)
                    del self.pending[self.next_seq]
                    self.next_seq += 1
                    if quiet:
                        self.tally.skipped += 1
                    else:
                        self.tally.late += 1
                frame = self.pending.pop(self.next_seq, None) if on_air else None
            ended = self.stream.ended.is_set()
            if not on_air:   # waiting for enough voice to go on (again)
                if ended and not have:
                    return
                if have >= self.target or (ended and have):
                    if self.tally.aired > 0:
                        self.tally.gaps.append(clock() - quiet_since)
                    with self.lock:   # after a lost link, of what came meanwhile the newest only (the first
                        # time, all: the first words, caught up with in the pauses)
                        while self.tally.aired > 0 and self.buffered() > self.target + FRAME_S:
                            del self.pending[min(self.pending)]
                            self.tally.late += 1
                        self.next_seq = min(self.pending)
                    on_air, fade_in, missing_since = True, True, None
                elif clock() - (self.last_arrival or self.stream.started) > GIVE_UP:
                    self.tally.gave_up = True   # the speaker's side went away without ending: it ends here
                    return
                else:
                    self.wake.wait(0.01)
                    self.wake.clear()
                continue
            if frame is None:   # the buffer ran dry
                if ended and not have:
                    self._emit(np.zeros(FRAME, np.float32), fade_out=True)
                    return
                if clock() - (self.last_arrival or 0) > QUIET_AFTER:   # the link is lost: fade out, wait
                    self._emit(np.zeros(FRAME, np.float32), fade_out=True)
                    on_air, quiet_since = False, clock()
                    continue
                missing_since = missing_since or clock()
                if clock() - missing_since < FRAME_S:   # it may still come: the sound card has 60 ms ahead
                    self.wake.wait(0.005)
                    self.wake.clear()
                    continue
                with self.lock:
                    if self.pending and min(self.pending) > self.next_seq:   # lost on the way: on to the next one
                        self.tally.late += min(self.pending) - self.next_seq
                        self.next_seq = min(self.pending)
                        continue
                frame = np.zeros(FRAME, np.float32)   # late in a flowing voice: silence for it
            missing_since = None
            with self.lock:
                self.next_seq += 1
            self._emit(frame, fade_in=fade_in)
            fade_in = False
            self.tally.aired += FRAME_S

    def _emit(self, frame: np.ndarray, *, fade_in: bool = False, fade_out: bool = False) -> None:
        """One frame at the zone's rate (linear interpolation: speech), faded if asked, into the queue."""
        n = int(round(len(frame) * self.rate / WIRE_RATE))
        x = np.concatenate(([self._last], frame)).astype(np.float64)
        out = np.interp(np.linspace(0, len(frame), n, endpoint=False), np.arange(len(frame) + 1), x)
        self._last = frame[-1] if len(frame) else self._last
        if fade_in:
            out *= np.linspace(0.0, 1.0, n)
        if fade_out:
            out = np.linspace(1.0, 0.0, n) * (out if out.any() else self._last)
            self._last = np.float32(0.0)
        block = np.repeat((out * self.volume).astype(np.float32)[:, None], self.channels, axis=1)
        put_until(self.blocks, block, self.stop_flag)

    def summary(self) -> str:
        """For the play log: who spoke, from where, how long it was on the air, and any gap."""
        t = self.tally
        out = _("live: {who} from {where}, {seconds} s on the air", who=self.stream.who, where=self.stream.where,
                seconds=f"{t.aired:.1f}")
        if t.gaps:
            out += "; " + _("{count} gap(s) without voice (the link lost), {seconds} s in all, the longest {longest} s",
                            count=len(t.gaps), seconds=f"{sum(t.gaps):.1f}", longest=f"{max(t.gaps):.1f}")
        if t.late:
            out += "; " + _("{count} frame(s) came too late", count=t.late)
        if t.skipped:
            out += "; " + _("pauses shortened by {seconds} s to catch up", seconds=f"{t.skipped * FRAME_S:.1f}")
        if t.gave_up:
            out += "; " + _("no voice came for {seconds} s: ended", seconds=f"{GIVE_UP:g}")
        return out


class Keeper:
    """The speaker's voice kept where it was spoken, as a WAV at WIRE_RATE, like an uploaded recording:
    ``<state>/live/<date>-<time>-<who>.wav`` (written as it comes; whole once closed)."""

    def __init__(self, state, who: str):
        import re
        from datetime import datetime
        import soundfile as sf
        folder = state / "live"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{datetime.now():%Y%m%d-%H%M%S}-{re.sub(r'[^A-Za-z0-9_.-]', '_', who)[:32]}.wav"
        self.file = sf.SoundFile(str(self.path), "w", samplerate=WIRE_RATE, channels=1, subtype="PCM_16")

    def write(self, pcm: bytes) -> None:
        self.file.buffer_write(pcm, dtype="int16")

    def close(self) -> None:
        self.file.close()
