"""BS.1770 loudness and true peak measured block by block, for audio of any length.

``Meter`` runs the K-weighting filter with its state carried from one block to the next and
keeps only the energy of each 100 ms step (36,000 numbers for an hour), from which the gated
integrated loudness is computed exactly as pyloudnorm computes it on the whole signal: same
filters, same 400 ms blocks with 75 % overlap, same gates. ``PeakFinder`` gives the exact
true peak (the same 4× oversampling as ``loudness.true_peak_dbtp``) while oversampling only
the blocks that could hold it: no oversampled value can exceed a block's sample peak times
``PEAK_BOUND``, the largest sum of absolute filter taps over the oversampling phases.
"""

from __future__ import annotations

import math

import numpy as np
from pyloudnorm.iirfilter import IIRfilter
from scipy.signal import resample_poly, sosfilt, sosfilt_zi

from broadcaster.audio.loudness import OVERSAMPLE, peak_envelope

GATE_BLOCK = 0.4        # seconds (BS.1770)
GATE_STEP = 0.25        # of a block: 75 % overlap, so steps of 100 ms
ABSOLUTE_GATE = -70.0   # LUFS
RELATIVE_GATE = -10.0   # LU under the ungated mean
PAD = 16                # input samples of context each side: the oversampling filter reaches 10


def _peak_bound() -> float:
    impulse = np.zeros(257, np.float64)
    impulse[128] = 1.0
    h = resample_poly(impulse, OVERSAMPLE, 1)
    return float(np.abs(h).reshape(-1, OVERSAMPLE).sum(axis=0).max()) * (1 + 1e-6)


PEAK_BOUND = _peak_bound()  # |oversampled| ≤ PEAK_BOUND × the largest |sample| within PAD


def k_weighting(rate: int) -> np.ndarray:
    """BS.1770's two K-weighting stages as second-order sections (pyloudnorm's coefficients)."""
    stages = (IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, rate, "high_shelf"),
              IIRfilter(0.0, 0.5, 38.0, rate, "high_pass"))
    return np.array([np.concatenate([s.b / s.a[0], s.a / s.a[0]]) for s in stages])


class Steps:
    """Where each 100 ms step begins, in samples, as pyloudnorm places its blocks."""

    def __init__(self, rate: int):
        self.rate = rate

    def start(self, k: int) -> int:
        return int(GATE_BLOCK * (k * GATE_STEP) * self.rate)

    def index(self, sample: int) -> int:
        k = int(sample / (GATE_BLOCK * GATE_STEP * self.rate))
        while self.start(k) > sample:
            k -= 1
        while self.start(k + 1) <= sample:
            k += 1
        return k


def add_energy(energy: list[float] | np.ndarray, steps: Steps, start: int, squares: np.ndarray) -> None:
    """Add ``squares`` (samples from ``start`` on) into the 100 ms steps they fall in."""
    pos, end = start, start + len(squares)
    k = steps.index(start)
    while pos < end:
        stop = min(end, steps.start(k + 1))
        if isinstance(energy, list):
            while len(energy) <= k:
                energy.append(0.0)
        energy[k] += float(squares[pos - start: stop - start].sum())
        pos, k = stop, k + 1


def gated_loudness(energy: np.ndarray, frames: int, rate: int) -> float:
    """Integrated loudness (LUFS) from per-step energies (channels already summed)."""
    seconds = frames / rate
    blocks = int(np.round((seconds - GATE_BLOCK) / (GATE_BLOCK * GATE_STEP))) + 1
    if frames < int(GATE_BLOCK * rate) + 1 or blocks < 1:
        return -math.inf
    padded = np.zeros(blocks + 3)
    n = min(len(energy), len(padded))
    padded[:n] = energy[:n]
    z = (padded[:-3] + padded[1:-2] + padded[2:-1] + padded[3:]) / (GATE_BLOCK * rate)
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(z)
    above = levels >= ABSOLUTE_GATE
    if not above.any():
        return -math.inf
    relative = -0.691 + 10 * math.log10(z[above].mean()) + RELATIVE_GATE
    kept = (levels > relative) & (levels > ABSOLUTE_GATE)
    if not kept.any():
        return -math.inf
    return -0.691 + 10 * math.log10(z[kept].mean())


class Meter:
    """Integrated loudness of a stream of blocks, (frames,) or (frames, channels)."""

    def __init__(self, rate: int, weight: float = 1.0):
        self.rate = rate
        self.weight = weight          # e.g. 2 for mono that will be written on two channels
        self.sos = k_weighting(rate)
        self.steps = Steps(rate)
        self.energy: list[float] = []
        self.frames = 0
        self._zi: np.ndarray | None = None

    def state(self) -> np.ndarray | None:
        """The filter's state now (to restart it here later), None before the first block."""
        return None if self._zi is None else self._zi.copy()

    def add(self, block: np.ndarray) -> None:
        x = block.astype(np.float64).reshape(len(block), -1)
        if self._zi is None:
            self._zi = np.zeros((x.shape[1],) + sosfilt_zi(self.sos).shape)
        y = np.empty_like(x)
        for c in range(x.shape[1]):
            y[:, c], self._zi[c] = sosfilt(self.sos, x[:, c], zi=self._zi[c])
        add_energy(self.energy, self.steps, self.frames, self.weight * np.square(y).sum(axis=1))
        self.frames += len(x)

    def loudness(self) -> float:
        return gated_loudness(np.asarray(self.energy), self.frames, self.rate)


class PeakFinder:
    """The exact true peak of a stream of blocks, oversampling only the blocks that could hold it."""

    def __init__(self):
        self.peak = 0.0               # linear; the true peak found so far
        self.frames = 0
        self.oversampled = 0          # frames that had to be oversampled
        self._prev: np.ndarray | None = None
        self._tail: np.ndarray | None = None   # the PAD frames before the previous block

    def add(self, block: np.ndarray) -> None:
        x = block.reshape(len(block), -1)
        if self._prev is not None:
            self._check(self._prev, x[:PAD])
            self._tail = self._prev[-PAD:]
        self._prev = x
        self.frames += len(x)

    def finish(self) -> float:
        """The true peak in dBTP."""
        if self._prev is not None:
            self._check(self._prev, self._prev[:0])
            self._prev = None
        return 20 * math.log10(self.peak) if self.peak > 0 else -math.inf

    def _check(self, block: np.ndarray, after: np.ndarray) -> None:
        before = self._tail if self._tail is not None else block[:0]
        context = np.concatenate([before, block, after])
        if len(context) == 0 or float(np.abs(context).max()) * PEAK_BOUND <= self.peak:
            return
        env = peak_envelope(context)[len(before): len(before) + len(block)]
        self.oversampled += len(block)
        self.peak = max(self.peak, float(env.max()) if len(env) else 0.0)
