"""Live voice (phát trực tiếp): a speaker's audio as it arrives, in 20-ms frames numbered from 0, played
on each zone through a jitter buffer, with a fade in, a fade out when the voice stops coming (a link
lost), again when it comes back, and at the end.

``LiveStream`` is one speaker's session at the daemon: frames go in (``put``: samples, or Opus packets
from a hub above), each zone's ``LiveFeeder`` takes them out. A feeder stands where a file's feeder
stands in the player: a thread filling the small queue the sound card's callback takes from.

The buffer adapts while the voice flows, as WebRTC's NetEq does. The stream measures how late each
frame comes against the earliest the link has lately brought one (``lateness``); the buffer's target
follows the latest lateness at once and forgets it slowly. At each frame's turn a feeder
- plays it when it is there (and in a pause, leaves a quiet frame out when it holds too much, or
  plays one twice when it holds too little: the buffer moves to its target where no one hears it);
- when it is not there yet, plays a concealed frame in its place without moving on (Opus's own
  packet-loss concealment; for samples, the last frame fading), so the frame that comes late is still
  played next: lateness grows the buffer at once and nothing is dropped;
- moves past a frame only when frames after it have come and its own is overdue (lost on the way).
Half a second with nothing is a lost link: the voice fades out and comes back, at the live edge
(what is being said now, not the backlog a held link delivers at once), when the link does.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from broadcaster.audio.relay import put_until
from broadcaster.i18n import _

from broadcaster.audio.opus import FRAME, WIRE_RATE, Decoder   # 20-ms frames of 16-bit samples at 16 kHz
FRAME_S = FRAME / WIRE_RATE
MAX_LIVE = 3600.0            # seconds a live voice may last
TARGET = 0.08                # seconds buffered at least (a clean link)
MARGIN = 2 * FRAME_S         # the target is the link's lateness and this
MOST = 1.0                   # the jitter buffer never holds more than this (late frames beyond it are dropped)
FIRST_MOST = 4.0             # … but before the voice first goes on the air (a fade, a sound card opening):
                             # the first words are kept, and caught up with in the pauses
QUIET_FRAME = 0.01           # a frame quieter than this (RMS) is a pause: where the buffer grows or shrinks
QUIET_AFTER = 0.5            # seconds without a frame: the voice fades out (the link is counted lost)
GIVE_UP = 30.0               # seconds without a frame: the airing ends
CATCH_UP = 0.06              # a zone holding this much more than the target leaves a quiet frame out
WINDOW = 3.0                 # seconds of arrivals the earliest is taken from (a link's delay may change)
SLOWER = 0.2                 # seconds a link may have slowed while it was held (its newest frame this far
                             # behind what is said now is still fresh; older, the voice waits for fresher)
FORGET = 4.0                 # seconds for the measured lateness to halve when frames come on time again
BACKLOG = 1.0                # seconds after a held link comes back in which what arrives is its backlog


@dataclass
class Tally:
    aired: float = 0.0                       # seconds of voice played
    gaps: list[float] = field(default_factory=list)   # seconds of each silence while the link was lost
    late: int = 0                            # frames that came too late to play (dropped)
    concealed: int = 0                       # frames not there at their turn: made up (packet-loss concealment)
    longest: int = 0                         # the most frames concealed one after another inside the voice
    skipped: int = 0                         # quiet frames left out to catch up (a pause made shorter)
    stretched: int = 0                       # quiet frames played twice to let the buffer grow (a pause made longer)
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
        self.earliest: collections.deque = collections.deque()   # (arrival, offset), offsets increasing
        self.base: float | None = None     # the least offset (arrival − seq × 20 ms) of the last WINDOW s
        self.jitter, self.jitter_at = 0.0, 0.0
        self.last_put: float | None = None
        self.resumed: float = -1e9          # when frames came again after a held link
        self.recent: collections.deque = collections.deque()   # (arrival, seq) of the last 0.2 s
        self.forwards: list = []   # where else the frames go as they come (put, end): the stations below

    def feeder(self, rate: int, channels: int, volume: float = 1.0, chime: np.ndarray | None = None) -> "LiveFeeder":
        """A zone's feeder; ``chime`` (mono samples at ``rate``) plays before the voice."""
        f = LiveFeeder(self, rate, channels, volume)
        f.chime = chime
        with self.lock:
            self.feeders.append(f)
        return f

    def put(self, seq: int, pcm: bytes | None = None, *, packet: bytes | None = None) -> None:
        """A frame from the speaker: 16-bit little-endian samples at WIRE_RATE, or its Opus ``packet``
        (decoded by each zone's feeder in turn, so that a missing one is concealed by the codec)."""
        if pcm is not None:
            for f in self.forwards:
                f.put(seq, pcm)
            payload = np.frombuffer(pcm[:FRAME * 2], dtype="<i2").astype(np.float32) / 32768
        else:
            payload = bytes(packet or b"")
        now = self.clock()
        with self.lock:
            self._measure(seq, now)
            for f in self.feeders:
                f.arrive(seq, payload, now)

    def _measure(self, seq: int, now: float) -> None:
        """How late this frame came against the earliest of the last WINDOW s; the lateness the buffer
        must cover goes up at once and down slowly (a held link's backlog is not lateness)."""
        if self.last_put is not None and now - self.last_put > QUIET_AFTER:
            self.resumed = now
        self.last_put = now
        self.recent.append((now, seq))
        self._forget(now)
        offset, w = now - seq * FRAME_S, self.earliest
        while w and w[-1][1] >= offset:
            w.pop()
        w.append((now, offset))
        while w[0][0] < now - WINDOW and now - self.resumed > BACKLOG:   # (a held link's backlog is judged
            w.popleft()                                                     # by the arrivals before it)
        self.base = w[0][1]
        late = offset - self.base
        if now - self.resumed > BACKLOG and late < MOST:
            self.jitter = max(late, self.jitter * 0.5 ** ((now - self.jitter_at) / FORGET))
            self.jitter_at = now

    def bursting(self, now: float) -> bool:
        """Whether frames come faster than they are spoken (twice or more, the last 0.2 s): a held link's
        backlog on its way, whose newest frames, what is said now, are still to come."""
        self._forget(now)
        return len(self.recent) * FRAME_S > 0.4

    def _forget(self, now: float) -> None:
        r = self.recent   # (kept to its last 0.2 s as frames come: an hour's voice does not pile up here)
        while r and r[0][0] < now - 0.2:
            r.popleft()

    def target(self) -> float:
        """Seconds of voice every zone holds (the same on all: they stay together)."""
        return min(MOST * 0.8, max(TARGET, self.jitter + MARGIN))

    def edge(self, now: float) -> float | None:
        """The frame number that comes now on the link at its quickest: what is being said now."""
        return None if self.base is None else (now - self.base) / FRAME_S

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
        self.pending: dict[int, np.ndarray | bytes] = {}
        self.next_seq: int | None = None
        self.target = TARGET
        self.most = FIRST_MOST    # MOST once the voice has caught up after its start
        self.last_arrival: float | None = None
        self.tally = Tally()
        self._last = np.float32(0.0)
        self.decoder = None       # for Opus packets: this zone's own, fed in the order frames are played
        self.toc: int | None = None
        self.made_up = np.zeros(FRAME, np.float32)   # the last frame played, for concealing samples
        self.on_air = self.fade_in = False
        self.quiet_since = 0.0
        self.in_a_row = 0         # frames concealed since the last one played
        self.levels: collections.deque = collections.deque(maxlen=int(1 / FRAME_S))   # what it held, each turn
        self.lock = threading.Lock()

    # --- from the receiving thread --------------------------------------------------------------
    def arrive(self, seq: int, payload: np.ndarray | bytes, now: float) -> None:
        if isinstance(payload, bytes) and self.decoder is None:   # made here, not in the thread the card waits on
            self.decoder = Decoder()
        with self.lock:
            self.last_arrival = now   # late or not, the link is alive
            if self.next_seq is not None and seq < self.next_seq:
                self.tally.late += 1   # its turn has passed (it was taken for lost): dropped
                return
            self.pending[seq] = payload
            while len(self.pending) * FRAME_S > self.most:
                self.pending.pop(min(self.pending))
                self.tally.late += 1
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
        if self.chime is not None:   # the chime first; what is said meanwhile is not kept (the speaker waits)
            for i in range(0, len(self.chime), 1024):
                block = (self.chime[i:i + 1024] * self.volume).astype(np.float32)
                if not put_until(self.blocks, np.repeat(block[:, None], self.channels, axis=1), self.stop_flag):
                    return
        self.on_air, self.quiet_since = False, self.stream.clock()
        while not self.stop_flag.is_set():
            self.target = self.stream.target()
            step = self._turn() if self.on_air else self._wait()
            if step == "end":
                return
            if step == "wait":
                self.wake.wait(0.005)
                self.wake.clear()

    def _wait(self) -> str | None:
        """Off the air: go on when the buffer holds its target (after a lost link, of the live edge)."""
        clock = self.stream.clock
        now, ended = clock(), self.stream.ended.is_set()
        stale = False
        with self.lock:
            joined = not self.tally.aired and self.pending and min(self.pending) * FRAME_S > FIRST_MOST
            if joined:   # a voice joined mid-way (a station given it up while its link was held): no first words
                self.most = MOST
            if (self.tally.aired > 0 or joined) and self.pending:   # a held link's backlog: its newest only
                edge = self.stream.edge(now)
                if edge is not None:   # (and of what came, the newest target's worth whatever the edge says)
                    keep = min(edge, max(self.pending) + 1) - self.target / FRAME_S - 1
                    stale = max(self.pending) < edge - (self.target + SLOWER) / FRAME_S
                    for s in [s for s in self.pending if s < keep]:
                        del self.pending[s]
                        self.tally.late += 1
            have = self.buffered()
            backlog = (self.tally.aired > 0 or joined) and (self.stream.bursting(now) or stale)   # (its newest
            # yet to come: after a held link the voice goes on from what is said now)
            if have and (have >= self.target or ended) and not backlog:
                if self.tally.aired > 0:
                    self.tally.gaps.append(now - self.quiet_since)
                self.next_seq = min(self.pending)
                self.on_air, self.fade_in = True, True
                return None
        if ended and not have:
            return "end"
        if now - (self.last_arrival or self.stream.started) > GIVE_UP:
            self.tally.gave_up = True   # the speaker's side went away without ending: it ends here
            return "end"
        if self.blocks.qsize() < 2:   # the sound card kept fed (silence) while the voice is awaited (a
            # callback may take more than a block): no dropout
            self._emit(np.zeros(FRAME, np.float32))
        return "wait"

    def _turn(self) -> str | None:
        """On the air: the next frame, or what stands in for it."""
        now, ended = self.stream.clock(), self.stream.ended.is_set()
        with self.lock:
            have = self.buffered()
            if have <= self.target + CATCH_UP:
                self.most = MOST   # caught up: from now on a short buffer
            payload = self.pending.pop(self.next_seq, None)
            later = min(self.pending) if self.pending else None
        if payload is not None:
            self.next_seq += 1
            frame = self._decode(payload)
            if frame is None:   # not a frame (a damaged packet): concealed
                self._emit(self._conceal())
                self._concealed()
                return None
            quiet = float(np.sqrt(np.mean(frame * frame))) < QUIET_FRAME
            # all this zone holds before the sound card, at its lowest and highest over the last second:
            # above the target all that time, it holds too much; never up to it, too little
            self.levels.append(have + self.blocks.qsize() * FRAME_S)
            low, high = min(self.levels), max(self.levels)
            if (low > self.target and quiet) or have > self.most * 0.9:
                if quiet:   # behind: catch up in the pauses between words (speech only when the buffer is full)
                    self.tally.skipped += 1
                else:
                    self.tally.late += 1
                return None
            self._play(frame)
            if quiet and high < self.target and not ended:   # short of its target: a pause made longer
                self._play(frame)
                self.tally.stretched += 1
            return None
        if ended and not have:
            self._emit(np.zeros(FRAME, np.float32), fade_out=True)
            return "end"
        if now - (self.last_arrival or 0) > QUIET_AFTER:   # the link is lost: fade out, wait for it
            self._emit(self._conceal(), fade_out=True)
            self.on_air, self.quiet_since, self.in_a_row = False, now, 0   # (a gap, not a hole in the voice)
            return None
        if self.blocks.qsize() >= 2:   # the sound card has 40 ms or more ahead: it may still come
            return "wait"
        self._emit(self._conceal())
        self._concealed()
        base = self.stream.base
        if later is not None and (have >= self.target or (base is not None and now > base + (
                self.next_seq + 1) * FRAME_S + self.stream.jitter + MARGIN)):
            with self.lock:   # frames after it came, and its own is overdue: lost on the way, on to them
                self.next_seq = later
        return None   # else the voice waits for it (the buffer grows by a frame): it comes late, not never

    def _concealed(self) -> None:
        self.in_a_row += 1
        self.tally.concealed += 1

    def _decode(self, payload) -> np.ndarray | None:
        if not isinstance(payload, bytes):
            return payload
        try:
            pcm = self.decoder.decode(payload)
        except (ValueError, IndexError):
            return None
        if len(pcm) != FRAME * 2:
            return None
        self.toc = payload[0] & 0xFC   # its configuration, one frame: what concealment is asked for
        return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768

    def _conceal(self) -> np.ndarray:
        """A frame for one that is not there: Opus's packet-loss concealment (the decoder continues the
        voice from what it last decoded, fading), or for samples the last frame again, softer each time."""
        if self.decoder is not None and self.toc is not None:
            try:
                pcm = self.decoder.decode(bytes([self.toc]))   # a packet of its header alone: "lost"
                if len(pcm) == FRAME * 2:
                    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
            except ValueError:
                pass
        self.made_up = self.made_up[::-1] * np.float32(0.6)   # reversed: no click where the copies meet
        return self.made_up

    def _play(self, frame: np.ndarray) -> None:
        self.tally.longest = max(self.tally.longest, self.in_a_row)   # a hole inside the voice
        self.made_up, self.in_a_row = frame, 0
        self._emit(frame, fade_in=self.fade_in)
        self.fade_in = False
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
        """For the play log: who spoke, from where, how long it was on the air, and what it lacked."""
        t = self.tally
        out = _("live: {who} from {where}, {seconds} s on the air", who=self.stream.who, where=self.stream.where,
                seconds=f"{t.aired:.1f}")
        if t.gaps:
            out += "; " + _("{count} gap(s) without voice (the link lost), {seconds} s in all, the longest {longest} s",
                            count=len(t.gaps), seconds=f"{sum(t.gaps):.1f}", longest=f"{max(t.gaps):.1f}")
        if t.concealed:
            out += "; " + _("{count} frame(s) concealed (not there at their turn), at most {ms} ms in a row",
                            count=t.concealed, ms=t.longest * 20)
        if t.late:
            out += "; " + _("{count} frame(s) came too late", count=t.late)
        if t.skipped * FRAME_S >= 0.05:
            out += "; " + _("pauses shortened by {seconds} s to catch up", seconds=f"{t.skipped * FRAME_S:.1f}")
        if t.stretched * FRAME_S >= 0.05:
            out += "; " + _("pauses lengthened by {seconds} s for a steadier link",
                            seconds=f"{t.stretched * FRAME_S:.1f}")
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
