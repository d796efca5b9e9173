"""Sound outputs and inputs: the one module that knows sounddevice (and so PortAudio).

A zone's output stream is a ``ZoneOutput``; what plays on it is an ``audio.playback.Playback``."""

from __future__ import annotations

import queue
import threading
import time as _time
from dataclasses import dataclass
import numpy as np

from broadcaster.audio.relay import Upstream
from broadcaster.errors import PlaybackError
from broadcaster.i18n import N_, _

PORTAUDIO_HINT = N_("install PortAudio: apt-get install libportaudio2 (on Windows it comes with the sounddevice package)")


@dataclass(frozen=True)
class Output:
    index: int
    name: str
    hostapi: str
    channels: int
    default_rate: float
    is_default: bool


def _sd():
    try:
        import sounddevice
    except OSError as e:  # the Python package is there, the PortAudio library is not
        raise PlaybackError(_("the sound system cannot be used: {reason}", reason=e), hint=_(PORTAUDIO_HINT)) from None
    return sounddevice


def list_outputs(inputs: bool = False) -> list[Output]:
    """Every device that can play sound (or, with ``inputs``, record it), as sounddevice sees it."""
    sd = _sd()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        default = sd.default.device[0 if inputs else 1]
    except sd.PortAudioError as e:
        raise PlaybackError(_("the sound system did not answer: {reason}", reason=e), hint=_(PORTAUDIO_HINT)) from None
    key = "max_input_channels" if inputs else "max_output_channels"
    return [Output(d["index"], d["name"], apis[d["hostapi"]]["name"], d[key],
                   d["default_samplerate"], d["index"] == default)
            for d in devices if d[key] > 0]


def refresh_outputs() -> None:
    """Make PortAudio list the devices again (it lists them once, at start). Only with no stream open."""
    sd = _sd()
    sd._terminate()
    sd._initialize()


def find_output(name: str, outputs: list[Output] | None = None, *, inputs: bool = False) -> Output:
    """The output (or input) whose name is ``name``, or contains it ("default" is the system default)."""
    outputs = list_outputs(inputs) if outputs is None else outputs
    if name == "default":
        for o in outputs:
            if o.is_default:
                return o
    exact = [o for o in outputs if o.name == name]
    partial = exact or [o for o in outputs if name.lower() in o.name.lower()]
    if len(partial) == 1:
        return partial[0]
    names = ", ".join(f'"{o.name}"' for o in outputs) or "-"
    if not partial:
        if inputs:
            raise PlaybackError(_('no sound input is called "{name}"', name=name),
                                hint=_("run `broadcaster devices`; inputs here: {names}", names=names))
        raise PlaybackError(_('no sound output is called "{name}"', name=name),
                            hint=_("run `broadcaster devices`; outputs here: {names}", names=names))
    names = ", ".join(f'"{o.name}"' for o in partial)
    raise PlaybackError(_('"{name}" matches several sound inputs: {names}', name=name, names=names) if inputs
                        else _('"{name}" matches several sound outputs: {names}', name=name, names=names),
                        hint=_("use more of the name"))


# --- output streams: one per zone, kept open while airings follow each other ----------

BLOCK = 1024            # frames per callback


class ZoneOutput:
    """One output stream, kept open while airings follow each other on it.

    Each attached ``Playback`` plays from the sample whose output time (PortAudio's DAC time, mapped
    to the wall clock) is its target; between airings the stream plays silence, so nothing is
    opened or closed between one airing and the next and back-to-back airings keep their own
    times. One that is due while another still plays starts on the sample after the other's last;
    one that ``follows`` another starts its gap after the other's last sample, wherever that fell.
    """

    def __init__(self, device: int | str, rate: int, channels: int):
        self.rate, self.channels = rate, channels
        self.queue: list = []               # the attached Playbacks (audio.playback), in the order they play
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.error: str | None = None
        self.last_end: float | None = None  # wall time the last ended airing's last sample left
        self.started = False
        self.underflows = 0                 # every underflow PortAudio reported on this stream
        self.called = _time.monotonic()     # when its callback last ran (a stream that stopped calling is stuck)
        sd = _sd()
        try:
            self.stream = sd.OutputStream(device=device, samplerate=rate, channels=channels, dtype="float32",
                                          blocksize=BLOCK, latency="high", callback=self._callback,
                                          finished_callback=self._finished)
        except (sd.PortAudioError, ValueError) as e:
            raise PlaybackError(_("the sound output cannot be opened: {reason}", reason=e),
                                hint=_("check that the sound card is plugged in (broadcaster devices)")) from None

    def fits(self, rate: int, channels: int) -> bool:
        return not self.closed.is_set() and (rate, channels) == (self.rate, self.channels)

    @property
    def idle(self) -> bool:
        return not self.queue

    def attach(self, pb: "Playback") -> None:
        with self.lock:
            if self.closed.is_set():
                raise PlaybackError(self.error or _("the sound output stopped playing"))
            if pb.follows is not None and pb.target is None and not self.queue and self.last_end is not None:
                pb.target = self.last_end + pb.follows   # what it follows ended already
            self.queue.append(pb)

    def detach(self, pb: "Playback") -> None:
        with self.lock:
            if pb in self.queue:
                self.queue.remove(pb)
        pb.finished.set()

    def start(self) -> None:
        if self.started:
            return
        try:
            self.stream.start()
        except Exception as e:
            self.close()
            raise PlaybackError(_("the sound output cannot be started: {reason}", reason=e)) from None
        self.started, self.called = True, _time.monotonic()

    def close(self) -> None:
        self.closed.set()
        _close(self.stream)
        self._end_all()

    def _finished(self) -> None:
        """The stream stopped: closed, or by itself (the device went away)."""
        if not self.closed.is_set():
            self.error = _("the sound output stopped playing")
        self.closed.set()
        self._end_all()

    def _end_all(self) -> None:
        with self.lock:
            left, self.queue = self.queue, []
        for pb in left:
            if pb.started_at is not None or self.error:
                pb.error = pb.error or self.error
            pb.finished.set()

    def _callback(self, out: np.ndarray, frames: int, t, status) -> None:
        self.called = _time.monotonic()
        if status.output_underflow:   # the card ran out of audio before this block: a dropout on the air
            self.underflows += 1
            with self.lock:
                pb = self.queue[0] if self.queue else None
            if pb is not None and pb.started_at is not None:
                pb.underruns += 1
        out.fill(0)
        # wall-clock time at which this block's first frame leaves the speaker
        dac = t.outputBufferDacTime or (t.currentTime + self.stream.latency)
        block_time = _time.time() + (dac - t.currentTime)
        pos = 0
        while pos < frames:
            with self.lock:
                pb = self.queue[0] if self.queue else None
            if pb is None:
                return
            end = pb._play(out, pos, frames, block_time)
            if end is None:
                return          # it plays on past this block, or waits for its start
            ended = block_time + end / self.rate
            with self.lock:
                if self.queue and self.queue[0] is pb:
                    self.queue.pop(0)
                self.last_end = ended
                nxt = self.queue[0] if self.queue else None
                if nxt is not None and nxt.follows is not None and nxt.target is None:
                    nxt.target = ended + nxt.follows
            pb.ended_at = ended
            pb.finished.set()
            pos = end


def _input_stream(device: int, rate: int, channels: int, callback, finished):
    sd = _sd()
    try:
        stream = sd.InputStream(device=device, samplerate=rate, channels=channels, dtype="float32",
                                blocksize=BLOCK, latency="high", callback=callback, finished_callback=finished)
        stream.start()
    except (sd.PortAudioError, ValueError) as e:
        raise PlaybackError(_("the sound input cannot be opened: {reason}", reason=e),
                            hint=_("check that the sound card is plugged in (broadcaster devices)")) from None
    return stream


def _close(stream) -> None:
    try:
        stream.abort(ignore_errors=True)
        stream.close(ignore_errors=True)
    except Exception:
        pass


class InputUpstream(Upstream):
    """A sound card input (an FM receiver on the line-in) as a relay's source: blocks as they are
    recorded, at the project's rate and channels."""

    def __init__(self, device: int, rate: int, channels: int):
        self.rate, self.block = rate, BLOCK
        self.ended: str | None = None
        self.blocks: queue.Queue = queue.Queue(maxsize=int(60 * rate / BLOCK))
        self.stream = _input_stream(device, rate, channels, self._callback, self._finished)

    def _callback(self, indata: np.ndarray, frames: int, t, status) -> None:
        try:
            self.blocks.put_nowait(indata.copy())
        except queue.Full:
            pass

    def _finished(self) -> None:
        self.ended = self.ended or _("the sound input stopped")

    def close(self) -> None:
        self.ended = self.ended or _("closed")
        _close(self.stream)


class MonitorInput:
    """A zone's monitor (the amplifier's line output, or a microphone by a loudspeaker): mono blocks
    with the wall-clock time their first sample was heard, for ``take``."""

    def __init__(self, device: int, rate: int):
        self.rate = rate
        self.blocks: queue.Queue = queue.Queue(maxsize=int(30 * rate / BLOCK))
        self.last = _time.monotonic()     # when the last block came (a silent device still sends blocks)
        self.ended: str | None = None
        self.dropped = False              # blocks were lost (the queue was full): times start again
        self.stream = _input_stream(device, rate, 1, self._callback, self._finished)

    def _callback(self, indata: np.ndarray, frames: int, t, status) -> None:
        adc = t.inputBufferAdcTime
        # when the block's last sample was recorded, by the PC's clock
        heard = _time.time() - ((t.currentTime - adc) if adc else 0.0) + (frames / self.rate if adc else 0.0)
        self.last = _time.monotonic()
        lost = bool(status.input_overflow) or self.dropped
        try:
            self.blocks.put_nowait((indata[:, 0].copy(), heard, lost))
            self.dropped = False
        except queue.Full:
            self.dropped = True

    def _finished(self) -> None:
        self.ended = self.ended or _("the sound input stopped")

    def take(self, timeout: float) -> list[tuple[np.ndarray, float, bool]]:
        """The blocks recorded since the last call (waiting up to ``timeout`` for the first): (samples,
        when its last sample was recorded, whether blocks were lost before it)."""
        out = []
        try:
            out.append(self.blocks.get(timeout=timeout))
            while True:
                out.append(self.blocks.get_nowait())
        except queue.Empty:
            return out

    def close(self) -> None:
        self.ended = self.ended or _("closed")
        _close(self.stream)
