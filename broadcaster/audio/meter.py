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
from scipy.signal import lfilter, resample_poly

from broadcaster.audio.loudness import OVERSAMPLE

GATE_BLOCK = 0.4        # seconds (BS.1770)
GATE_STEP = 0.25        # of a block: 75 % overlap, so steps of 100 ms
ABSOLUTE_GATE = -70.0   # LUFS
RELATIVE_GATE = -10.0   # LU under the ungated mean
PAD = 16                # input samples of context each side: the oversampling filter reaches 10


def _impulse_response() -> np.ndarray:
    """resample_poly's 4× oversampling of a unit impulse at sample 128 (its taps, in place)."""
    impulse = np.zeros(257, np.float64)
    impulse[128] = 1.0
    return resample_poly(impulse, OVERSAMPLE, 1)


_RESPONSE = _impulse_response()
# |oversampled| ≤ PEAK_BOUND × the largest |sample| within PAD: the largest sum of |taps| of a phase
PEAK_BOUND = float(np.abs(_RESPONSE).reshape(-1, OVERSAMPLE).sum(axis=0).max()) * (1 + 1e-6)
FINE = 64                   # samples screened together by the bound
# (20, 4): the oversampled values after sample i are x[i-9 .. i+10] @ _PHASES
_PHASES = np.array([[_RESPONSE[OVERSAMPLE * (128 + d) + p] for d in range(-10, 10)]
                    for p in range(OVERSAMPLE)])[:, ::-1].T.astype(np.float32).copy()


def screened_envelope(x: np.ndarray, threshold: float) -> np.ndarray:
    """``peak_envelope(x)`` where it can pass ``threshold``, 0 where it cannot: only the samples
    of 64-sample blocks near a loud one (about 15–30 % of speech) are oversampled."""
    x = x.reshape(len(x), -1)
    env = np.zeros(len(x), np.float32)
    if len(x) == 0:
        return env
    blocks = -(-len(x) // FINE)
    for c in range(x.shape[1]):
        mag = np.zeros(blocks * FINE, np.float32)
        mag[:len(x)] = np.abs(x[:, c])
        peak = mag.reshape(blocks, FINE).max(axis=1)
        near = np.maximum(peak, np.maximum(np.pad(peak[1:], (0, 1)), np.pad(peak[:-1], (1, 0))))
        loud = np.flatnonzero(near * PEAK_BOUND > threshold)
        if not len(loud):
            continue
        idx = (loud[:, None] * FINE + np.arange(FINE)).ravel()
        idx = idx[idx < len(x)]
        padded = np.pad(x[:, c].astype(np.float32), (9, 10))
        windows = padded[idx[:, None] + np.arange(20)]
        env[idx] = np.maximum(env[idx], np.abs(windows @ _PHASES).max(axis=1))   # the loudest channel
    return env


class KFilter:
    """BS.1770's two K-weighting stages (pyloudnorm's coefficients) as one fourth-order filter."""

    def __init__(self, rate: int):
        shelf = IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, rate, "high_shelf")
        high_pass = IIRfilter(0.0, 0.5, 38.0, rate, "high_pass")
        self.b = np.convolve(shelf.b, high_pass.b) / (shelf.a[0] * high_pass.a[0])
        self.a = np.convolve(shelf.a, high_pass.a) / (shelf.a[0] * high_pass.a[0])

    def zero(self) -> np.ndarray:
        return np.zeros(len(self.a) - 1)

    def __call__(self, x: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(filtered x, the state after it), from ``state``."""
        return lfilter(self.b, self.a, x, zi=state)


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
        self.k = KFilter(rate)
        self.steps = Steps(rate)
        self.energy: list[float] = []
        self.frames = 0
        self._zi: np.ndarray | None = None

    def state(self) -> np.ndarray | None:
        """The filter's state now (to restart it here later), None before the first block."""
        return None if self._zi is None else self._zi.copy()

    def add(self, block: np.ndarray) -> None:
        x = block.reshape(len(block), -1)
        if self._zi is None:
            self._zi = np.zeros((x.shape[1], len(self.k.a) - 1))
        squares = np.zeros(len(x))
        for c in range(x.shape[1]):
            y, self._zi[c] = self.k(np.ascontiguousarray(x[:, c], dtype=np.float64), self._zi[c])
            squares += y * y
        add_energy(self.energy, self.steps, self.frames, self.weight * squares)
        self.frames += len(x)

    def loudness(self) -> float:
        return gated_loudness(np.asarray(self.energy), self.frames, self.rate)


class PeakFinder:
    """The exact true peak of a stream of blocks, oversampling only the blocks that could hold it."""

    def __init__(self):
        self.peak = 0.0               # linear; the true peak found so far
        self._prev: np.ndarray | None = None
        self._tail: np.ndarray | None = None   # the PAD frames before the previous block

    def add(self, block: np.ndarray) -> None:
        x = block.reshape(len(block), -1)
        if self._prev is not None:
            self._check(self._prev, x[:PAD])
            self._tail = self._prev[-PAD:]
        self._prev = x

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
        env = screened_envelope(context, self.peak)[len(before): len(before) + len(block)]
        self.peak = max(self.peak, float(env.max()) if len(env) else 0.0)
