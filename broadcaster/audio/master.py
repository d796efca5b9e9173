"""Mastering a bulletin of any length in constant memory, at a few seconds per hour of audio.

1. ``Timeline``: the assembled mono speech is written in chunks to an unnamed temporary file
   while, for every 64-sample block, its K-weighted energy and its sample peak are kept (two
   numbers a block), and BS.1770's energy of every 100 ms step.
2. ``Master``: the limiter works per block (``loudness.limiter_curve``), so what it needs is each
   block's true peak, computed exactly (``meter.block_envelopes``) only for the blocks a proven
   bound says could pass the ceiling at the gains tried. The loudness at a gain is then the
   measured energy scaled, minus what the limiter takes from each block it touches: the block's
   K-weighted energy × the mean square of the limiter's gain over it (the gain changes over 40 ms,
   slowly enough against the K filter that this is within 0.002 LU of filtering the limited
   signal while the limiter takes a few dB; taking 20 dB and more, it can be tenths off, where the
   target cannot be reached anyway). Each step of the search costs a few operations per block.
3. ``Master.peak_dbtp`` computes the limited signal's exact true peak on the blocks that can come
   near the ceiling; ``Master.write`` applies gain and limiter chunk by chunk, into the encoder.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from broadcaster.audio.files import read_blocks
from broadcaster.audio.loudness import curve_samples, db_to_gain, limiter_curve, solve_gain
from broadcaster.audio.meter import (ABSOLUTE_GATE, FINE, GATE_BLOCK, GATE_STEP, LEAD, Meter, PeakFinder,
                                     block_envelopes, block_peaks, gated_loudness, near_bound)
from broadcaster.workers import map_all

CHUNK = 1 << 16              # frames per step through the timeline; a whole number of blocks
SEGMENT = 4096               # blocks oversampled together
SCREEN_MARGIN_DB = 3.0       # true peaks are computed for gains up to this much above the one asked for
assert CHUNK % FINE == 0


class Timeline:
    """Mono float32 audio appended in pieces, kept on disk, measured on the way in."""

    def __init__(self, folder: Path, rate: int, weight: float = 1.0):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.file = tempfile.TemporaryFile(dir=folder, prefix=".render-")  # gone even after a crash
        self.rate = rate
        self.meter = Meter(rate, weight)
        self.energies: list[np.ndarray] = []   # K-weighted energy of each block, a chunk at a time
        self.peaks: list[np.ndarray] = []      # largest |sample| of each block
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
        squares = self.meter.add(chunk)
        blocks = -(-n // FINE)
        if n % FINE:
            squares = np.concatenate([squares, np.zeros(blocks * FINE - n)])
        self.energies.append(squares.reshape(blocks, FINE).sum(axis=1).astype(np.float32))
        self.peaks.append(block_peaks(chunk))
        self.file.seek(0, 2)
        self.file.write(chunk.tobytes())
        self.file.flush()                    # read back with pread, from any thread

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames [start, stop) clipped to what was appended; unflushed frames included."""
        flushed = self.meter.frames
        start, stop = max(0, start), min(stop, self.frames)
        if stop <= start:
            return np.zeros(0, np.float32)
        parts = []
        if start < flushed:
            parts.append(np.frombuffer(os.pread(self.file.fileno(), (min(stop, flushed) - start) * 4, start * 4),
                                       dtype=np.float32))
        if stop > flushed:
            pending = np.concatenate(self._pending)
            parts.append(pending[max(0, start - flushed): stop - flushed])
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def take_blocks(self) -> tuple[np.ndarray, np.ndarray]:
        """(K-weighted energy, largest |sample|) of every block, handed over once, not kept twice."""
        energies = np.concatenate(self.energies) if self.energies else np.zeros(0, np.float32)
        peaks = np.concatenate(self.peaks) if self.peaks else np.zeros(0, np.float32)
        self.energies = self.peaks = None
        return energies, peaks

    def around(self, first: int, last: int) -> np.ndarray:
        """Blocks [first, last) with the LEAD samples before and 10 after that oversampling reaches,
        zeros outside the timeline: what ``meter.block_envelopes`` takes (block k starts at LEAD + 64 k)."""
        start, stop = first * FINE - LEAD, last * FINE + 10
        out = np.zeros(stop - start, np.float32)
        x = self.read(start, stop)
        lo = max(0, start) - start
        out[lo: lo + len(x)] = x
        return out

    def dispose(self) -> None:
        self.file.close()


class Master:
    """Gain and limiter for a closed ``Timeline``."""

    def __init__(self, timeline: Timeline, ceiling_dbtp: float):
        self.t = timeline
        self.rate = timeline.rate
        self.ceiling = db_to_gain(ceiling_dbtp)
        self.measured = timeline.meter.loudness()
        self.energy, peaks = timeline.take_blocks()
        self.blocks = len(self.energy)
        # a block's true peak: exact where ``exact``, else an upper bound
        self.true_peak = near_bound(peaks)
        del peaks
        self.exact = np.zeros(self.blocks, bool)
        meter = timeline.meter
        self.starts = meter.steps.starts(np.arange(len(meter.energy) + 1))
        self._curves: dict[float, np.ndarray | None] = {}

    def _screen(self, gain: float) -> None:
        """Compute the exact true peak of every block that could pass the ceiling at up to ``gain``
        (× a margin, so that the search rarely comes back for more)."""
        todo = np.flatnonzero(~self.exact & (self.true_peak * (gain * db_to_gain(SCREEN_MARGIN_DB)) > self.ceiling))
        frames = self.t.frames

        def screen(window: tuple[int, int, np.ndarray]) -> None:
            first, last, batch = window
            env = block_envelopes(self.t.around(first, last), LEAD + (batch - first) * FINE,
                                  end=LEAD + frames - first * FINE)
            self.true_peak[batch] = env.max(axis=1)
            self.exact[batch] = True

        if len(todo) < 4 * SEGMENT:
            for window in _windows(todo):
                screen(window)
        else:               # reading, products and maxima let go of the interpreter: use every core
            map_all(screen, _windows(todo))

    def curve(self, gain: float) -> np.ndarray | None:
        """The limiter's gain at every block boundary at ``gain`` (None: it does nothing)."""
        if gain not in self._curves:
            self._screen(gain)
            if len(self._curves) > 1:
                self._curves.pop(next(iter(self._curves)))
            self._curves[gain] = limiter_curve(self.true_peak, gain, self.ceiling, self.rate)
        return self._curves[gain]

    # --- the gain ---------------------------------------------------------------------
    def loudness_at(self, gain_db: float) -> float:
        """Integrated loudness of the limited output at ``gain_db``."""
        g = db_to_gain(gain_db)
        energy = np.asarray(self.t.meter.energy, dtype=np.float64)
        curve = self.curve(g)
        if curve is not None:
            steps = len(energy)
            lost = np.zeros(steps + 1)
            for lo in range(0, self.blocks, 1 << 20):       # a million blocks at a time: bounded memory
                part = curve[lo: lo + (1 << 20) + 1]
                touched = np.flatnonzero(np.minimum(part[:-1], part[1:]) < 1.0)
                a, b = part[touched].astype(np.float64), part[touched + 1].astype(np.float64)
                loss = self.energy[lo + touched] * ((a * a + a * b + b * b) / 3.0 - 1.0)
                # the 100 ms step each block begins in, and the share of the block there (the rest: the next)
                begins = (lo + touched) * FINE
                step = np.clip(np.searchsorted(self.starts, begins, side="right") - 1, 0, steps - 1)
                share = np.clip((self.starts[step + 1] - begins) / FINE, 0.0, 1.0)
                lost += np.bincount(step, weights=loss * share, minlength=steps + 1)
                lost += np.bincount(step + 1, weights=loss * (1.0 - share), minlength=steps + 1)
            lost[steps - 1] += lost[steps]
            energy = np.maximum(energy + lost[:steps], 0.0)   # the shares are by samples, not by energy
        return gated_loudness(energy * g * g, self.t.frames, self.rate)

    def solve(self, target_lufs: float, tolerance: float = 0.05) -> tuple[float, float]:
        """(gain in dB, a last uniform trim in dB) for ``target_lufs`` under the ceiling."""
        gain_db = 0.0 if not math.isfinite(self.measured) else solve_gain(
            self.loudness_at, self.measured, target_lufs, tolerance)
        over = self.peak_dbtp(gain_db) - 20 * math.log10(self.ceiling)
        return gain_db, -over if over > 0 else 0.0

    def peak_dbtp(self, gain_db: float) -> float:
        """True peak of the limited output. Only blocks that can come near the ceiling are
        oversampled: elsewhere the bound (× gain, the limiter's gain being ≤ 1) is under it."""
        g = db_to_gain(gain_db)
        curve = self.curve(g)
        most = np.ones(self.blocks, np.float32) if curve is None else np.maximum(curve[:-1], curve[1:])
        near = self.true_peak * g * most
        wanted = np.flatnonzero(near > 0.9 * self.ceiling)
        peak = float(near[~self.exact].max()) if (~self.exact).any() else 0.0   # bounds, all under it
        padded = None if curve is None else np.pad(curve, (1, 1), mode="edge")   # the block before and after, too
        for first, last, batch in _windows(wanted):
            y = self.t.around(first, last) * np.float32(g)
            if padded is not None:
                y *= curve_samples(padded, first, (last - first + 2) * FINE)[FINE - LEAD: FINE - LEAD + len(y)]
            env = block_envelopes(y, LEAD + (batch - first) * FINE, end=LEAD + self.t.frames - first * FINE)
            peak = max(peak, float(env.max()))
        return 20 * math.log10(peak) if peak > 0 else -math.inf

    def write(self, sink: Callable[[np.ndarray], None], gain_db: float, trim_db: float = 0.0,
              start: int = 0, stop: int | None = None) -> None:
        """Frames [start, stop) (start a whole number of blocks in), chunk by chunk, gain and limiter
        applied, to ``sink`` (mono float32). Two ranges can be written at once from two threads."""
        g = db_to_gain(gain_db) * db_to_gain(trim_db)
        curve = self.curve(db_to_gain(gain_db))
        stop = self.t.frames if stop is None else stop
        assert start % FINE == 0
        for s in range(start, stop, CHUNK):
            y = self.t.read(s, min(stop, s + CHUNK)) * np.float32(g)
            b = s // FINE
            if curve is not None and curve[b: b + CHUNK // FINE + 1].min() < 1.0:
                y *= curve_samples(curve, b, len(y))
            sink(y)


def quiet_split(t: Timeline, least_seconds: float) -> int | None:
    """The frame in the middle of the silence (300 ms under BS.1770's absolute gate) nearest the middle of the
    timeline, where it can be cut in two and each half encoded on its own core; None when it is
    shorter than ``least_seconds`` or has no silence in its middle third."""
    energy = np.asarray(t.meter.energy)
    if t.frames < least_seconds * t.rate or len(energy) < 9:
        return None
    step = GATE_BLOCK * GATE_STEP * t.rate
    three = (energy[:-2] + energy[1:-1] + energy[2:]) / (3 * step)
    silent = np.flatnonzero(three < 10 ** ((ABSOLUTE_GATE + 0.691) / 10))
    middle = len(three) / 2
    silent = silent[np.abs(silent - middle) < len(three) / 6]
    if not len(silent):
        return None
    k = int(silent[np.argmin(np.abs(silent - middle))])
    return int((k + 1.5) * step) // FINE * FINE


def _windows(blocks: np.ndarray):
    """(first, last, the blocks in [first, last)) for sorted ``blocks``, at most SEGMENT blocks apart."""
    lo = 0
    while lo < len(blocks):
        first = int(blocks[lo])
        hi = int(np.searchsorted(blocks, first + SEGMENT))
        yield first, int(blocks[hi - 1]) + 1, blocks[lo:hi]
        lo = hi


def measure(path: Path, *, what: str, at: int = 0) -> tuple[Meter, float]:
    """An audio file read in blocks: its ``Meter`` and its true peak (linear). ``at``: where the file
    begins in a longer one (the meter's 100 ms steps are then that one's, to add up with ``summed``)."""
    rate, blocks = read_blocks(path, 1 << 16, what=what)
    meter, peaks = Meter(rate), PeakFinder()
    meter.frames = at
    for block in blocks:
        meter.add(block)
        peaks.add(block)
    peaks.finish()
    return meter, peaks.peak


def summed(parts: list[tuple[Meter, float]]) -> tuple[float, float, float]:
    """(integrated loudness in LUFS, true peak in dBTP, seconds) of a file measured in parts
    (``measure`` with ``at``: each part's steps are the file's, so they add up)."""
    rate = parts[0][0].rate
    energy = np.zeros(max(len(m.energy) for m, _p in parts))
    for m, _p in parts:
        energy[:len(m.energy)] += m.energy
    frames = max(m.frames for m, _p in parts)
    peak = max(p for _m, p in parts)
    return gated_loudness(energy, frames, rate), 20 * math.log10(peak) if peak > 0 else -math.inf, frames / rate


def measure_file(path: Path, *, what: str) -> tuple[float, float, float]:
    """(integrated loudness in LUFS, true peak in dBTP, seconds) of an audio file, read in blocks."""
    return summed([measure(path, what=what)])
