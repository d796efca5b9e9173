"""One airing on an output: its audio read ahead of the output's callback (``_Feeder``), placed on
its target sample, faded on request (``Playback``). Knows no sound library: the output it plays on
is an ``audio.player.ZoneOutput``."""

from __future__ import annotations

import queue
import threading
import time as _time
from pathlib import Path

import numpy as np

from broadcaster.audio.player import ZoneOutput
from broadcaster.audio.relay import put_until
from broadcaster.errors import PlaybackError
from broadcaster.i18n import _

QUEUE_SECONDS = 3.0     # audio read ahead of the callback; memory stays this size for any length
FADE_SECONDS = 0.5


class _Feeder(threading.Thread):
    """Reads the file block by block ahead of the callback (so no disk I/O in the audio thread)."""

    def __init__(self, path: Path, volume: float):
        super().__init__(daemon=True, name=f"feeder {path.name}")
        import soundfile as sf
        from broadcaster.audio.files import BlockReader
        try:
            self.file = BlockReader(str(path))
        except (sf.LibsndfileError, RuntimeError, OSError) as e:
            raise PlaybackError(_("cannot open {file}: {reason}", file=path.name, reason=e),
                                hint=_("render it again with broadcaster build")) from None
        if self.file.frames == 0:
            self.file.close()
            raise PlaybackError(_("{file} has no sound in it", file=path.name), hint=_("render it again with broadcaster build"))
        self.rate = self.file.samplerate
        self.channels = self.file.channels
        self.frames = self.file.frames
        self.volume = volume
        self.blocks: queue.Queue = queue.Queue(maxsize=max(2, int(QUEUE_SECONDS * self.rate / 4096)))
        self.stop_flag = threading.Event()
        self.error: str | None = None
        self._first = self.file.read(4096, dtype="float32", always_2d=True)  # proves it decodes, now

    def discard(self) -> None:
        """Never started (its output could not be opened): close the file."""
        self.stop_flag.set()
        self.file.close()

    def run(self) -> None:
        try:
            block = self._first
            while len(block) and not self.stop_flag.is_set():
                put_until(self.blocks, block * self.volume if self.volume != 1.0 else block, self.stop_flag)
                block = self.file.read(4096, dtype="float32", always_2d=True)
        except Exception as e:  # a file damaged half-way: end the airing with the reason
            self.error = _("the audio file could not be read to the end: {reason}", reason=e)
        finally:
            self.file.close()
            put_until(self.blocks, None, self.stop_flag)  # end marker


class Playback:
    """One airing on an output: prepared ahead, started on time, faded on request.

    Made with its own ``ZoneOutput`` (``play``, ``preview``), or attached to a zone's (the daemon,
    which keeps one open while airings follow each other). The output plays silence until the
    target sample, then the audio; ``hold`` keeps the audio back until ``arm``.
    """

    def __init__(self, device: int | str | None, source, volume: float = 1.0, output: ZoneOutput | None = None,
                 follows: float | None = None):
        """``source``: an audio file's path, or a feeder of live audio (``relay.RelayFeeder``);
        ``follows``: start this many seconds after the airing before it on the output ends."""
        self.path = source if isinstance(source, Path) else None
        self.feeder = _Feeder(source, volume) if isinstance(source, Path) else source
        self.target: float | None = None      # wall-clock time of the first sample
        self.follows = follows
        self.started_at: float | None = None  # when the first sample reached the output
        self.ended_at: float | None = None    # when the last one did
        self.finished = threading.Event()
        self.underruns = 0   # dropouts while it played: the card ran dry, or the file was not read in time
        self._pending = np.zeros((0, self.feeder.channels), dtype=np.float32)
        self._eof = False
        self._fade_total = 0
        self._fade_left = 0
        self._stop_now = False
        self.error: str | None = None
        self.armed = threading.Event()  # cleared by hold(): the audio waits, in silence, for arm()
        self.armed.set()
        self.tap = None   # called with (samples, wall time of the first) for what it sends, from its start
        self.own = output is None
        try:
            self.output = output or ZoneOutput(device, self.feeder.rate, self.feeder.channels)
            self.output.attach(self)
        except PlaybackError:
            self.feeder.discard()
            raise
        self.feeder.start()

    @property
    def rate(self) -> int:
        return self.feeder.rate

    @property
    def duration(self) -> float:
        """Seconds of audio in the file (or planned, for a relay)."""
        return self.feeder.frames / self.rate

    def start_error(self) -> float | None:
        """Seconds from when the first sample was due (its target) to when it left the output; None before."""
        if self.started_at is None or self.target is None:
            return None
        return self.started_at - self.target

    def position(self) -> float:
        """Seconds of the audio that have reached the output so far (0 before the start)."""
        if self.started_at is None:
            return 0.0
        return min(self.duration, max(0.0, _time.time() - self.started_at))

    def start_at(self, when: float | None) -> None:
        """The audio starts at wall-clock time ``when`` (None: as it ``follows``); the output runs from now."""
        if when is not None or self.follows is None:
            self.target = when
        self.output.start()

    def hold(self) -> None:
        """Keep the audio back, even past its start time, until ``arm`` (the play log is written first)."""
        self.armed.clear()

    def arm(self) -> None:
        self.armed.set()

    def fade_out(self, seconds: float = FADE_SECONDS) -> None:
        self._fade_total = self._fade_left = max(1, int(seconds * self.rate))

    def stop(self) -> None:
        self._stop_now = True

    def wait(self, timeout: float | None = None) -> bool:
        """Whether it has ended (with its own output: and its last sample has left the speaker)."""
        if not self.finished.wait(timeout):
            return False
        if self.own and self.ended_at is not None:
            _time.sleep(max(0.0, min(self.ended_at - _time.time(), 5.0)))
        return True

    def close(self) -> None:
        self.feeder.stop_flag.set()
        if self.own:
            self.output.close()
        else:
            self.output.detach(self)
        self.finished.set()

    def _take(self, n: int) -> np.ndarray:
        parts = [self._pending]
        have = len(self._pending)
        while have < n and not self._eof:
            try:
                block = self.feeder.blocks.get_nowait()
            except queue.Empty:
                self.underruns += 1
                break
            if block is None:
                self._eof = True
                break
            parts.append(block)
            have += len(block)
        data = np.concatenate(parts) if len(parts) > 1 else parts[0]
        self._pending = data[n:]
        return data[:n]

    def _play(self, out: np.ndarray, pos: int, frames: int, block_time: float) -> int | None:
        """From the output's callback: fill ``out`` from frame ``pos`` on; the frame where this airing
        ended, or None if it goes on (or has not started) past this block."""
        if self._stop_now:
            return pos
        start = pos
        if self.started_at is None:
            if not self.armed.is_set() or self.target is None:
                return None   # silence until the airing is in the play log (or what it follows has ended)
            wait = int(round((self.target - block_time) * self.rate))
            if wait >= frames:
                return None   # still before the start: silence
            start = max(pos, wait)
            self.started_at = block_time + start / self.rate
        want = frames - start
        data = self._take(want)
        n = len(data)
        faded = False
        if self._fade_total:
            ramp = (self._fade_left - np.arange(n)) / self._fade_total
            data = data * np.clip(ramp, 0, 1)[:, None]
            self._fade_left -= n
            faded = self._fade_left <= 0
        out[start:start + n] = data
        done = faded or (self._eof and len(self._pending) == 0 and n < want)
        end = start + n if done else frames
        if self.tap is not None:
            self.tap(out[start:end].copy(), block_time + start / self.rate)
        return end if done else None
