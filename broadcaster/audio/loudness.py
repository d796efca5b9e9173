"""Loudness (ITU-R BS.1770 via pyloudnorm), true peak and a look-ahead limiter. Pure numpy.

Every bulletin and jingle should play at the same loudness, whatever engine spoke
it: the whole bulletin is brought to the target integrated loudness, and a
smooth limiter keeps the 4×-oversampled (true) peak under the ceiling.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Callable

import numpy as np

# pyloudnorm and scipy are imported where they are used: they take a second to import, and a
# command that touches no audio (a `build` with nothing to do, `next`) should not pay for them

OVERSAMPLE = 4
LIMITER_WINDOW_S = 0.02  # gain reduction ramps in over 20 ms ahead of a peak and out over 20 ms after
MAX_STEP_DB = 6.0  # largest gain change between two attempts while searching for the target


def db_to_gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    """Integrated loudness in LUFS; -inf for silence or sound shorter than one 400 ms block."""
    if len(samples) < int(0.4 * rate) + 1:
        return -math.inf
    import pyloudnorm
    with np.errstate(divide="ignore"):
        value = pyloudnorm.Meter(rate).integrated_loudness(samples.astype(np.float64))
    return float(value)


_HALF = 10 * OVERSAMPLE


@cache
def oversampling_taps() -> np.ndarray:
    """resample_poly's own anti-imaging filter for 4× (Kaiser β = 5, ten zero crossings a side), made once."""
    from scipy.signal import firwin
    return (firwin(2 * _HALF + 1, 1 / OVERSAMPLE, window=("kaiser", 5.0)) * OVERSAMPLE).astype(np.float32)


def peak_envelope(samples: np.ndarray) -> np.ndarray:
    """Per input sample, the largest oversampled magnitude between it and the next one."""
    from scipy.signal import upfirdn
    x = samples if samples.ndim == 2 else samples[:, None]
    up = upfirdn(oversampling_taps(), x.astype(np.float32, copy=False), OVERSAMPLE, 1, axis=0)[
        _HALF: _HALF + OVERSAMPLE * len(x)]
    return np.abs(up.reshape(len(x), -1)).max(axis=1)


def true_peak_dbtp(samples: np.ndarray) -> float:
    """True peak in dBTP (4× oversampling, as BS.1770-4 Annex 2)."""
    if len(samples) == 0:
        return -math.inf
    peak = float(peak_envelope(samples).max())
    return 20 * math.log10(peak) if peak > 0 else -math.inf


LIMITER_BLOCK = 64  # samples: the limiter decides its gain per block, from the block's true peak


def block_max(values: np.ndarray) -> np.ndarray:
    """The largest of each block of ``LIMITER_BLOCK`` non-negative values (the last block may be short)."""
    blocks = -(-len(values) // LIMITER_BLOCK)
    if len(values) % LIMITER_BLOCK:
        values = np.concatenate([values, np.zeros(blocks * LIMITER_BLOCK - len(values), values.dtype)])
    return values.reshape(blocks, LIMITER_BLOCK).max(axis=1)


def limiter_curve(block_peaks: np.ndarray, gain: float, ceiling: float, rate: int) -> np.ndarray | None:
    """The limiter's gain at each block boundary (one more value than blocks; linear in between),
    for blocks whose true peaks (linear, before ``gain``) are ``block_peaks``; None if no block
    passes the linear ``ceiling``.

    Each block needs ``ceiling / (peak × gain)``; the curve is a moving minimum of that over the
    blocks within ``LIMITER_WINDOW_S`` either side, then a moving average over the same reach. Every
    average that covers a sample is of minima that include its block, so no sample gets more gain
    than its block needs, while the gain changes slowly enough not to be heard as distortion.
    """
    need = np.asarray(block_peaks, np.float32) * np.float32(gain)     # (memory: a few arrays of blocks)
    np.maximum(need, 1e-30, out=need)
    np.divide(np.float32(ceiling), need, out=need)
    np.minimum(need, 1.0, out=need)
    n = len(need)
    if n == 0 or need.min() >= 1.0:
        return None
    from scipy.ndimage import minimum_filter1d, uniform_filter1d
    h = max(1, round(LIMITER_WINDOW_S * rate / LIMITER_BLOCK))
    least = minimum_filter1d(need, 2 * h + 1, mode="nearest")
    del need
    least = np.append(least, least[-1])     # boundary b averages blocks b - h … b + h - 1
    return np.minimum(uniform_filter1d(least, 2 * h, mode="nearest"), 1.0)   # running sums in double


def curve_samples(curve: np.ndarray, first_block: int, frames: int) -> np.ndarray:
    """The limiter's gain for each of ``frames`` samples from the start of block ``first_block``."""
    blocks = -(-frames // LIMITER_BLOCK)
    a = curve[first_block: first_block + blocks]
    b = curve[first_block + 1: first_block + blocks + 1]
    ramp = np.arange(LIMITER_BLOCK, dtype=np.float32) / LIMITER_BLOCK
    return (a[:, None] + (b - a)[:, None] * ramp).ravel()[:frames]


def limit(samples: np.ndarray, rate: int, ceiling_dbtp: float,
          envelope: np.ndarray | None = None) -> np.ndarray:
    """Smoothly reduce gain wherever the true peak would pass the ceiling (``limiter_curve``).
    ``envelope`` is ``peak_envelope(samples)`` when the caller already has it."""
    env = peak_envelope(samples) if envelope is None else envelope
    curve = limiter_curve(block_max(env), 1.0, db_to_gain(ceiling_dbtp), rate)
    if curve is None:
        return samples
    gain = curve_samples(curve, 0, len(samples))
    out = samples * (gain if samples.ndim == 1 else gain[:, None])
    return out.astype(np.float32)


def solve_gain(loudness_at: Callable[[float], float], measured: float, target_lufs: float,
               tolerance: float) -> float:
    """The gain (dB) at which ``loudness_at(gain)`` is within ``tolerance`` of the target.

    Limiting makes loudness grow less than the gain: secant steps from the unlimited guess.
    Returns the last gain tried when 20 steps were not enough.
    """
    g0 = target_lufs - measured
    l0 = loudness_at(g0)
    if abs(target_lufs - l0) <= tolerance:
        return g0
    g1 = g0 + (target_lufs - l0)
    for _ in range(20):
        l1 = loudness_at(g1)
        if abs(target_lufs - l1) <= tolerance:
            break
        slope = (l1 - l0) / (g1 - g0) if g1 != g0 else 1.0
        slope = min(1.0, max(0.05, slope))
        step = max(-MAX_STEP_DB, min(MAX_STEP_DB, (target_lufs - l1) / slope))
        g0, l0, g1 = g1, l1, g1 + step
    return g1


def normalize(samples: np.ndarray, rate: int, target_lufs: float, ceiling_dbtp: float,
              tolerance: float = 0.05) -> np.ndarray:
    """Bring ``samples`` to ``target_lufs`` with the true peak at or under ``ceiling_dbtp``."""
    measured = integrated_loudness(samples, rate)
    if not math.isfinite(measured):
        return limit(samples, rate, ceiling_dbtp)  # silence or too short to measure
    envelope = peak_envelope(samples)  # scales with the gain: compute it once
    tried: dict[float, np.ndarray] = {}

    def attempt(gain_db: float) -> float:
        g = db_to_gain(gain_db)
        tried.clear()
        tried[gain_db] = limit((samples * g).astype(np.float32), rate, ceiling_dbtp, envelope * g)
        return integrated_loudness(tried[gain_db], rate)

    gain_db = solve_gain(attempt, measured, target_lufs, tolerance)
    if gain_db not in tried:
        attempt(gain_db)
    return tried[gain_db]


def trim_peak(samples: np.ndarray, ceiling_dbtp: float) -> np.ndarray:
    """A last, tiny, uniform gain step if the true peak is still above the ceiling."""
    over = true_peak_dbtp(samples) - ceiling_dbtp
    return samples * db_to_gain(-over) if over > 0 else samples
