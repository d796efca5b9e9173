"""The sound outputs of the zones: found by name, looked up again when a card comes back.

Each zone has one output stream (``audio.player.ZoneOutput``), opened for its first airing and
kept open while airings follow each other, so the next one is attached ahead and starts on its
own sample; the zone's worker closes it when nothing is due soon. PortAudio lists its devices
once; it can be asked again only while no stream is open, so every stream is opened and closed
through this part.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from broadcaster.errors import PlaybackError
from broadcaster.i18n import _
from broadcaster.daemon.parts import Part

log = logging.getLogger("broadcaster.daemon")


class Busy(PlaybackError):
    """The zone's stream plays audio of another format: the airing is opened once that has ended."""


class Outputs(Part):
    name = "outputs"

    def __init__(self, daemon):
        super().__init__(daemon)
        self.devices: dict[str, int] = {}
        self.lock = threading.RLock()   # PortAudio is re-initialised only while no stream is open
        self.streams: dict[str, object] = {}   # zone → its open ZoneOutput
        self.inputs: set = set()        # the zones' monitor inputs, open all the time

    def start(self) -> None:
        for zone in self.d.served:
            self.resolve(zone, quiet=False)

    def reload(self, old, new) -> None:
        if new != old:
            self.devices.clear()

    def stop(self) -> None:
        for zone in list(self.streams):
            self.close_stream(zone)

    def open(self, zone: str, path, follows: float | None = None):
        """A ``Playback`` of ``path`` (or a feeder's live audio) on ``zone``'s output stream, opened if
        it is not; give it back with ``release``. ``Busy`` when the zone's stream plays audio of
        another rate or channel count (then open it once that has ended)."""
        from broadcaster.audio.player import ZoneOutput
        from broadcaster.audio.playback import Playback, _Feeder
        feeder = _Feeder(path, self.d.cfg.zones[zone].volume) if isinstance(path, Path) else path
        with self.lock:
            out = self.streams.get(zone)
            if out is not None and not out.fits(feeder.rate, feeder.channels):
                if not (out.idle or out.closed.is_set()):
                    if feeder is not path:   # ours; a live voice's (or a relay's) is offered again as it is
                        feeder.discard()
                    raise Busy(zone)
                self.close_stream(zone)
                out = None
            try:
                if out is None:
                    out = self.streams[zone] = ZoneOutput(self.resolve(zone), feeder.rate, feeder.channels)
                return Playback(None, feeder, output=out, follows=follows)
            except PlaybackError:
                self.devices.pop(zone, None)  # look the device up again next time
                feeder.discard()
                if zone in self.streams and self.streams[zone].idle:
                    self.close_stream(zone)
                raise

    def close_stream(self, zone: str) -> None:
        """Close the zone's output stream (when nothing is due soon, or it broke)."""
        with self.lock:
            out = self.streams.pop(zone, None)
        if out is not None:
            out.close()

    def stream_of(self, zone: str):
        return self.streams.get(zone)

    def open_relay(self, zone: str, source, seconds: float, fallback: Path | None):
        """An output stream for ``zone`` relaying ``source`` for ``seconds``, connected now (ahead of its
        start), with ``fallback`` ready; give it back with ``release``."""
        from broadcaster.audio.files import StreamDecoder
        from broadcaster.audio.player import InputUpstream, find_output
        from broadcaster.audio.relay import RelayFeeder
        cfg = self.d.cfg
        rate, channels = cfg.audio.sample_rate, cfg.audio.channels
        if source.url:
            def connect():
                return StreamDecoder(source.url, rate, channels, timeout=source.timeout)
        else:
            def connect():
                return InputUpstream(find_output(source.device, inputs=True).index, rate, channels)
        feeder = RelayFeeder(connect, (lambda: StreamDecoder(str(fallback), rate, channels, loop=True))
                             if fallback else None, rate=rate, channels=channels, seconds=seconds,
                             timeout=source.timeout, target_lufs=cfg.audio.loudness, ceiling_dbtp=cfg.audio.true_peak,
                             volume=cfg.zones[zone].volume)
        try:
            return self.open(zone, feeder)
        except PlaybackError:
            feeder.discard()   # the stream was connected ahead: let it go
            raise

    def open_monitor(self, name: str, rate: int):
        """A zone's monitor input, by name (``audio.player.MonitorInput``); give it back with ``close_monitor``."""
        from broadcaster.audio.player import MonitorInput, find_output
        with self.lock:
            m = MonitorInput(find_output(name, inputs=True).index, rate)
            self.inputs.add(m)
            return m

    def close_monitor(self, m) -> None:
        with self.lock:
            self.inputs.discard(m)
        m.close()

    def release(self, pb) -> None:
        """An airing has ended: its stream stays open for the next (closed if it broke)."""
        pb.close()
        if pb.output.closed.is_set():
            with self.lock:
                self.streams = {z: o for z, o in self.streams.items() if o is not pb.output}

    def resolve(self, zone: str, quiet: bool = True) -> int:
        """The PortAudio index of the zone's device; -1 (logged) at start when it is missing."""
        from broadcaster.audio.player import find_output, refresh_outputs
        if zone not in self.devices:
            try:
                self.devices[zone] = find_output(self.d.cfg.zones[zone].device).index
            except PlaybackError as missing:
                error = missing
                if not self.streams:
                    # PortAudio lists devices once; while nothing plays, look again (a USB card plugged back);
                    # the monitors are closed for it and open themselves again
                    for m in list(self.inputs):
                        self.close_monitor(m)
                    refresh_outputs()
                    self.devices.clear()
                    try:
                        self.devices[zone] = find_output(self.d.cfg.zones[zone].device).index
                        log.info(_("zone {zone}: its sound output is back", zone=zone))
                        self._problem(zone, None)
                        return self.devices[zone]
                    except PlaybackError as again:
                        error = again
                self._problem(zone, str(error))
                if not quiet:
                    log.error(_("zone {zone}: {reason}; its airings will fail until the device is back", zone=zone,
                                reason=error))
                    return -1
                raise error from None
            self._problem(zone, None)
        return self.devices[zone]

    def _problem(self, zone: str, text: str | None) -> None:
        """What is wrong with a zone's output, kept where `status` and the console read it."""
        journal = self.d.journal
        if journal is not None and journal.meta(f"device:{zone}") != (text or ""):
            journal.set_meta(f"device:{zone}", text or "")
