"""Opus for a live voice on the way to the stations: 20-ms frames of 16-bit samples at 16 kHz in, a few
dozen bytes each out, and back. PyAV's libopus (its wheels carry it on Windows and Linux alike).

libopus decodes at 48 kHz here: the decoder's output is brought back to 16 kHz by a low-pass filter
that keeps its state from one frame to the next and every third sample, so one packet gives exactly
one frame again (the voice was coded at 16 kHz: nothing above 8 kHz is lost)."""

from __future__ import annotations

import numpy as np

WIRE_RATE = 16000            # the speaker's audio on the way: 16 kHz mono, 16-bit (speech)
FRAME = 320                  # samples per frame: 20 ms

BITRATE = 24000        # bits per second: clear speech (wideband), ~60 bytes a frame


class Encoder:
    def __init__(self, bitrate: int = BITRATE):
        import av
        self.av = av
        self.codec = av.CodecContext.create("libopus", "w")
        self.codec.sample_rate, self.codec.layout, self.codec.format = WIRE_RATE, "mono", "s16"
        self.codec.bit_rate = bitrate
        self.codec.options = {"application": "voip", "frame_duration": "20"}
        self.pts = 0

    def encode(self, pcm: bytes) -> list[bytes]:
        """One frame (FRAME samples, 16-bit little-endian) in; its packet(s) out (libopus may hold one back)."""
        x = np.frombuffer(pcm[:FRAME * 2].ljust(FRAME * 2, b"\0"), dtype="<i2").reshape(1, -1)
        frame = self.av.AudioFrame.from_ndarray(x, format="s16", layout="mono")
        frame.sample_rate, frame.pts = WIRE_RATE, self.pts
        self.pts += FRAME
        return [bytes(p) for p in self.codec.encode(frame)]


class Decoder:
    def __init__(self):
        import av
        self.av = av
        self.codec = av.CodecContext.create("libopus", "r")
        self.codec.sample_rate, self.codec.layout = WIRE_RATE, "mono"
        # a windowed-sinc low-pass (scipy's firwin(47, 7600, fs=48000), without importing scipy: that took
        # 0.8 s, in the zone's thread at a voice's first packet, while the sound card waited)
        n = np.arange(47) - 23
        taps = np.sinc(2 * 7600 / 48000 * n) * np.hamming(47)
        self.taps = (taps / taps.sum()).astype(np.float32)
        self.state = np.zeros(len(self.taps) - 1, np.float32)
        self.phase = 0

    def decode(self, packet: bytes) -> bytes:
        """One packet in; its frame out (FRAME samples, 16-bit little-endian); ValueError if it is not Opus."""
        try:
            frames = self.codec.decode(self.av.Packet(packet))
        except self.av.error.FFmpegError as e:
            raise ValueError(str(e)) from None
        out = []
        for f in frames:
            x = f.to_ndarray().astype(np.float32).reshape(-1)
            if f.format.name.startswith("s16"):
                x /= 32768
            rate = f.sample_rate
            if rate == WIRE_RATE:
                out.append(x)
                continue
            step = rate // WIRE_RATE
            y = np.concatenate([self.state, x])
            self.state = y[-(len(self.taps) - 1):]
            low = np.convolve(y, self.taps, mode="valid")
            out.append(low[self.phase::step])
            self.phase = (self.phase - len(low)) % step
        y = np.concatenate(out) if out else np.zeros(0, np.float32)
        return (np.clip(y, -1, 1) * 32767).astype("<i2").tobytes()
