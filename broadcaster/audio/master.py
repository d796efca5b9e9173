"""Mastering a bulletin of any length in constant memory.

1. ``Timeline``: the assembled mono speech is written in chunks to an unnamed temporary file
   while the K-weighted energy of every 100 ms, the filter's state at every chunk and every
   chunk's sample peak are kept (a few numbers a chunk).
2. ``Master.solve``: the gain that brings the limited output to the target. The limiter can act
   only on chunks whose sample peak, times the gain and ``PEAK_BOUND``, passes the ceiling; the
   K-weighting filter is linear, so the loudness at a gain is the measured energy scaled, plus
   what the limiter takes away, computed on those chunks alone. The same secant search as
   ``loudness.normalize``, each step costing only the loud chunks.
3. ``Master.write``: chunk by chunk, gain and limiter applied, straight into the encoder.

The result matches ``loudness.normalize`` on the whole signal (same envelope, same gain curve:
every chunk is computed with enough of its neighbours around it).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from broadcaster.audio.files import read_blocks
from broadcaster.audio.loudness import LIMITER_WINDOW_S, db_to_gain, solve_gain
from broadcaster.audio.meter import (PAD, PEAK_BOUND, Meter, PeakFinder, add_energy, gated_loudness,
                                     screened_envelope)

CHUNK = 8192                 # frames; more than the limiter's reach (2 × 20 ms + PAD) at 48 kHz
SCREEN_MARGIN_DB = 3.0       # the envelope is kept for gains up to this much above the first asked for


class Timeline:
    """Mono float32 audio appended in pieces, kept on disk, measured on the way in."""

    def __init__(self, folder: Path, rate: int, weight: float = 1.0):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.file = tempfile.TemporaryFile(dir=folder, prefix=".render-")  # gone even after a crash
        self._scratch = [self.file]
        self.rate = rate
        self.meter = Meter(rate, weight)
        self.peaks: list[float] = []
        self.states: list[np.ndarray | None] = []
        self.frames = 0                      # frames appended so far (flushed or not)
        self._pending: list[np.ndarray] = []
        self._pending_frames = 0

    def write(self, samples: np.ndarray) -> None:
        if len(samples) == 0:
            return
        self._pending.append(np.asarray(samples, dtype=np.float32))
        self._pending_frames += len(samples)
        self.frames += len(samples)
        while self._pending_frames >= CHUNK:
            self._flush(CHUNK)

    def copy(self, start: int, stop: int) -> None:
        """Append frames [start, stop) of what is already here (a second reading of the text)."""
        for s in range(start, stop, CHUNK):
            self.write(self.read(s, min(stop, s + CHUNK)))

    def close(self) -> None:
        while self._pending_frames:
            self._flush(min(CHUNK, self._pending_frames))

    def _flush(self, n: int) -> None:
        joined = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        chunk, rest = joined[:n], joined[n:]
        self._pending = [rest] if len(rest) else []
        self._pending_frames = len(rest)
        self.states.append(self.meter.state())
        self.meter.add(chunk)
        self.peaks.append(float(np.abs(chunk).max()))
        self.file.seek(0, 2)
        self.file.write(chunk.tobytes())

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames [start, stop) clipped to what was appended; unflushed frames included."""
        flushed = self.meter.frames
        start, stop = max(0, start), min(stop, self.frames)
        if stop <= start:
            return np.zeros(0, np.float32)
        parts = []
        if start < flushed:
            self.file.seek(start * 4)
            parts.append(np.frombuffer(self.file.read((min(stop, flushed) - start) * 4), dtype=np.float32))
        if stop > flushed:
            pending = np.concatenate(self._pending)
            parts.append(pending[max(0, start - flushed): stop - flushed])
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    @property
    def chunks(self) -> int:
        return len(self.peaks)

    def scratch(self):
        """Another unnamed temporary file beside this one, closed with it."""
        f = tempfile.TemporaryFile(dir=self.folder, prefix=".render-")
        self._scratch.append(f)
        return f

    def dispose(self) -> None:
        for f in self._scratch:
            f.close()


class Master:
    """Gain and limiter for a closed ``Timeline``, found and applied chunk by chunk."""

    def __init__(self, timeline: Timeline, ceiling_dbtp: float):
        self.t = timeline
        self.rate = timeline.rate
        self.ceiling = db_to_gain(ceiling_dbtp)
        self.half = int(LIMITER_WINDOW_S * self.rate)
        self.size = 2 * self.half + 1
        assert 2 * self.half + PAD < CHUNK
        peaks = np.asarray(timeline.peaks, dtype=np.float64)
        near = np.pad(peaks, 1)
        self.reach = np.maximum(np.maximum(near[:-2], near[1:-1]), near[2:]) * PEAK_BOUND
        self.measured = timeline.meter.loudness()
        self.chunk_peak = np.zeros(timeline.chunks)   # each chunk's true peak, where it can matter
        self._screened_to = 0.0                       # the envelope file holds what matters up to this gain
        self._envfile = None
        self._needs: dict[tuple[int, float], np.ndarray] = {}

    def _screen(self, gain: float) -> None:
        """Write the oversampled envelope of every chunk where it could pass the ceiling at up to
        ``gain`` (× a margin for the search) to a second temporary file; zero elsewhere."""
        if gain <= self._screened_to:
            return
        self._screened_to = gain * db_to_gain(SCREEN_MARGIN_DB)
        threshold = self.ceiling / self._screened_to
        if self._envfile is None:
            self._envfile = self.t.scratch()
        self._envfile.seek(0)
        for c in range(self.t.chunks):
            s, e = c * CHUNK, min(self.t.frames, (c + 1) * CHUNK)
            if self.reach[c] * self._screened_to <= self.ceiling:
                env = np.zeros(e - s, np.float32)
            else:
                lo = max(0, s - PAD)
                env = screened_envelope(self.t.read(lo, e + PAD), threshold)[s - lo: s - lo + (e - s)]
            self.chunk_peak[c] = float(env.max()) if len(env) else 0.0
            self._envfile.write(env.tobytes())

    # --- which chunks the limiter can touch at a gain ---------------------------------
    def _limited(self, gain: float) -> tuple[np.ndarray, np.ndarray]:
        """(flagged, touched) chunks at ``gain``: flagged where the true peak passes the ceiling (the
        limiter acts there), touched where its gain curve reaches (those and their neighbours)."""
        self._screen(gain)
        flagged = self.chunk_peak * gain > self.ceiling
        f = np.pad(flagged, 1)
        return flagged, f[:-2] | f[1:-1] | f[2:]

    def _envelope(self, c: int) -> np.ndarray:
        n = min(self.t.frames, (c + 1) * CHUNK) - c * CHUNK
        self._envfile.seek(c * CHUNK * 4)
        return np.frombuffer(self._envfile.read(n * 4), dtype=np.float32)

    def _need(self, c: int, gain: float, flagged: np.ndarray) -> np.ndarray:
        n = min(self.t.frames, (c + 1) * CHUNK) - c * CHUNK
        if not flagged[c]:
            return np.ones(n, np.float32)
        need = self._needs.get((c, gain))
        if need is None:
            need = np.minimum(1.0, self.ceiling / np.maximum(self._envelope(c) * gain, 1e-12)).astype(np.float32)
            if len(self._needs) > 4:
                self._needs.pop(next(iter(self._needs)))
            self._needs[(c, gain)] = need
        return need

    def gain_curve(self, c: int, gain: float, flagged: np.ndarray) -> np.ndarray:
        """The limiter's gain over chunk ``c``, as ``loudness.limit`` computes it on the whole."""
        s, e = c * CHUNK, min(self.t.frames, (c + 1) * CHUNK)
        around = [k for k in (c - 1, c, c + 1) if 0 <= k < self.t.chunks]
        need = np.concatenate([self._need(k, gain, flagged) for k in around])
        first = around[0] * CHUNK
        lo, hi = max(first, s - 2 * self.half), min(self.t.frames, e + 2 * self.half)
        need = need[lo - first: hi - first]
        curve = uniform_filter1d(minimum_filter1d(need, self.size, mode="nearest"), self.size, mode="nearest")
        return np.minimum(curve[s - lo: e - lo], 1.0)

    def _runs(self, touched: np.ndarray) -> list[tuple[int, int]]:
        """Consecutive chunks to recompute: touched ones and the one after each (the filter's tail)."""
        wanted = touched | np.concatenate([[False], touched[:-1]])
        idx = np.flatnonzero(wanted)
        if len(idx) == 0:
            return []
        breaks = np.flatnonzero(np.diff(idx) > 1)
        starts = np.concatenate([[idx[0]], idx[breaks + 1]])
        ends = np.concatenate([idx[breaks], [idx[-1]]])
        return list(zip(starts.tolist(), ends.tolist()))

    # --- the gain ---------------------------------------------------------------------
    def loudness_at(self, gain_db: float) -> float:
        """Integrated loudness of the limited output at ``gain_db``, computing the loud chunks only."""
        g = db_to_gain(gain_db)
        meter = self.t.meter
        energy = np.asarray(meter.energy, dtype=np.float64) * g * g
        flagged, touched = self._limited(g)
        for c0, c1 in self._runs(touched):
            state = self.t.states[c0]
            zx = meter.k.zero() if state is None else state[0].copy()
            zr = meter.k.zero()
            for c in range(c0, c1 + 1):
                x = self.t.read(c * CHUNK, (c + 1) * CHUNK).astype(np.float64)
                kx, zx = meter.k(x, zx)
                r = (self.gain_curve(c, g, flagged) - 1.0) * g * x if touched[c] else np.zeros_like(x)
                kr, zr = meter.k(r, zr)
                add_energy(energy, meter.steps, c * CHUNK, meter.weight * (2 * g * kx * kr + kr * kr))
        return gated_loudness(energy, self.t.frames, self.rate)

    def solve(self, target_lufs: float, tolerance: float = 0.05) -> tuple[float, float]:
        """(gain in dB, a last uniform trim in dB) for ``target_lufs`` under the ceiling."""
        gain_db = 0.0 if not math.isfinite(self.measured) else solve_gain(
            self.loudness_at, self.measured, target_lufs, tolerance)
        over = self.peak_dbtp(gain_db) - 20 * math.log10(self.ceiling)
        return gain_db, -over if over > 0 else 0.0

    def peak_dbtp(self, gain_db: float) -> float:
        """True peak of the limited output where the limiter acted (elsewhere it is under the ceiling)."""
        g = db_to_gain(gain_db)
        flagged, touched = self._limited(g)
        peak = -math.inf
        for c0, c1 in self._runs(touched):
            finder = PeakFinder()
            for c in range(max(0, c0 - 1), min(self.t.chunks - 1, c1 + 1) + 1):
                x = self.t.read(c * CHUNK, (c + 1) * CHUNK)
                finder.add(x * g * (self.gain_curve(c, g, flagged) if touched[c] else 1.0))
            peak = max(peak, finder.finish())
        return peak

    def write(self, sink: Callable[[np.ndarray], None], gain_db: float, trim_db: float = 0.0) -> None:
        """Every chunk, gain and limiter applied, to ``sink`` (mono float32)."""
        g = db_to_gain(gain_db)
        trim = db_to_gain(trim_db)
        flagged, touched = self._limited(g)
        for c in range(self.t.chunks):
            x = self.t.read(c * CHUNK, (c + 1) * CHUNK)
            y = x * np.float32(g * trim)
            if touched[c]:
                y = y * self.gain_curve(c, g, flagged)
            sink(y.astype(np.float32))


def measure_file(path: Path, *, what: str) -> tuple[float, float, float]:
    """(integrated loudness in LUFS, true peak in dBTP, seconds) of an audio file, read in blocks."""
    rate, blocks = read_blocks(path, 1 << 16, what=what)
    meter, peaks = Meter(rate), PeakFinder()
    for block in blocks:
        meter.add(block)
        peaks.add(block)
    return meter.loudness(), peaks.finish(), meter.frames / rate
