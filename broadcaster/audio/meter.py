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

from broadcaster.audio.loudness import LIMITER_BLOCK, OVERSAMPLE, block_max

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
FINE = LIMITER_BLOCK        # samples screened together by the bound: the limiter's block
LEAD = 9                    # samples before one that its oversampled values reach (and 10 after)
# (20, 4): the oversampled values after sample i are x[i-9 .. i+10] @ _PHASES
_PHASES = np.array([[_RESPONSE[OVERSAMPLE * (128 + d) + p] for d in range(-10, 10)]
                    for p in range(OVERSAMPLE)])[:, ::-1].T.astype(np.float32).copy()
_WIDTH = FINE + 19          # a block of samples with the filter's reach: 9 before, 10 after


def _block_phases() -> np.ndarray:
    """(83, 4 × 64): a block's window of samples @ this = its 256 oversampled values, phase by phase."""
    m = np.zeros((_WIDTH, OVERSAMPLE * FINE), np.float32)
    for p in range(OVERSAMPLE):
        for j in range(FINE):
            m[j: j + 20, p * FINE + j] = _PHASES[:, p]
    return m


_BLOCK_PHASES = _block_phases()


def block_envelopes(x: np.ndarray, starts: np.ndarray, end: int | None = None) -> np.ndarray:
    """(blocks, 64): ``peak_envelope`` of the 64 samples from each of ``starts`` in mono ``x``, which
    must hold LEAD samples before and 10 after each block (zeros where the signal has none); 0 from
    ``end`` on (where the signal stops). One matrix product per batch of blocks, so it costs about as
    much per sample as a copy."""
    out = np.empty((len(starts), FINE), np.float32)
    reach = np.arange(_WIDTH) - LEAD
    for i in range(0, len(starts), 2048):
        windows = x[starts[i: i + 2048, None] + reach]
        phases = np.abs(windows @ _BLOCK_PHASES).reshape(len(windows), OVERSAMPLE, FINE)
        out[i: i + len(windows)] = phases.max(axis=1)
    if end is not None:
        for row in np.flatnonzero(starts + FINE > end):
            out[row, max(0, end - starts[row]):] = 0.0
    return out


def block_peaks(x: np.ndarray) -> np.ndarray:
    """The largest |sample| of each 64-sample block of ``x`` (frames,) or (frames, channels)."""
    return block_max(np.abs(x) if x.ndim == 1 else np.abs(x).max(axis=1))


def near_bound(peaks: np.ndarray, before: float = 0.0, after: float = 0.0) -> np.ndarray:
    """No oversampled value in a block exceeds this: ``PEAK_BOUND`` × the largest sample of the block
    and its neighbours (the filter reaches 10 samples); ``before``/``after``: the samples around."""
    out = np.asarray(peaks, dtype=np.float32).copy()
    if len(out):
        np.maximum(out[1:], peaks[:-1], out=out[1:])
        np.maximum(out[:-1], peaks[1:], out=out[:-1])
        out[0], out[-1] = max(out[0], before), max(out[-1], after)
    out *= np.float32(PEAK_BOUND)
    return out


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

    def _at(self, k):
        return GATE_BLOCK * (k * GATE_STEP) * self.rate

    def start(self, k: int) -> int:
        return int(self._at(k))

    def starts(self, ks: np.ndarray) -> np.ndarray:
        """``start`` of each of ``ks``."""
        return self._at(ks).astype(np.int64)

    def index(self, sample: int) -> int:
        k = int(sample / (GATE_BLOCK * GATE_STEP * self.rate))
        while self.start(k) > sample:
            k -= 1
        while self.start(k + 1) <= sample:
            k += 1
        return k


def add_energy(energy: list[float], steps: Steps, start: int, squares: np.ndarray) -> None:
    """Add ``squares`` (samples from ``start`` on) into the 100 ms steps they fall in."""
    if not len(squares):
        return
    first, last = steps.index(start), steps.index(start + len(squares) - 1)
    bounds = steps.starts(np.arange(first, last + 1)) - start
    bounds[0] = 0
    sums = np.add.reduceat(squares, bounds)
    while len(energy) <= last:
        energy.append(0.0)
    for k, value in zip(range(first, last + 1), sums.tolist()):
        energy[k] += value


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

    def add(self, block: np.ndarray) -> np.ndarray:
        """Measure ``block``; returns its K-weighted squares (channels summed, weighted) per frame."""
        x = block.reshape(len(block), -1)
        if self._zi is None:
            self._zi = np.zeros((x.shape[1], len(self.k.a) - 1))
        squares = np.zeros(len(x))
        for c in range(x.shape[1]):
            y, self._zi[c] = self.k(np.ascontiguousarray(x[:, c], dtype=np.float64), self._zi[c])
            squares += y * y
        if self.weight != 1.0:
            squares *= self.weight
        add_energy(self.energy, self.steps, self.frames, squares)
        self.frames += len(x)
        return squares

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
        """Oversample the blocks that could beat the peak so far, loudest first (a high peak found
        early rules out more of the rest)."""
        before = self._tail if self._tail is not None else block[:0]
        n = len(block)
        if n == 0:
            return
        peaks = block_peaks(block)
        bound = near_bound(peaks, float(np.abs(before).max()) if len(before) else 0.0,
                           float(np.abs(after).max()) if len(after) else 0.0)
        wanted = np.flatnonzero(bound > self.peak)
        if not len(wanted):
            return
        wanted = wanted[np.argsort(-bound[wanted], kind="stable")]
        context = np.zeros((LEAD + len(peaks) * FINE + 10, block.shape[1]), np.float32)
        context[LEAD - len(before[-LEAD:]): LEAD] = before[-LEAD:]
        context[LEAD: LEAD + n] = block
        context[LEAD + n: LEAD + n + len(after[:10])] = after[:10]
        for batch in (wanted[:16], wanted[16:]):
            batch = batch[bound[batch] > self.peak]
            if not len(batch):
                continue
            for c in range(block.shape[1]):
                env = block_envelopes(context[:, c], LEAD + batch * FINE, end=LEAD + n)
                self.peak = max(self.peak, float(env.max()))
