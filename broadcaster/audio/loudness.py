"""Loudness (ITU-R BS.1770 via pyloudnorm), true peak and a look-ahead limiter. Pure numpy.

Every bulletin and jingle should play at the same loudness, whatever engine spoke
it: the whole bulletin is brought to the target integrated loudness, and a
smooth limiter keeps the 4×-oversampled (true) peak under the ceiling.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pyloudnorm
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import firwin, upfirdn

OVERSAMPLE = 4
LIMITER_WINDOW_S = 0.02  # gain reduction ramps in over 20 ms ahead of a peak and out over 20 ms after
MAX_STEP_DB = 6.0  # largest gain change between two attempts while searching for the target


def db_to_gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    """Integrated loudness in LUFS; -inf for silence or sound shorter than one 400 ms block."""
    if len(samples) < int(0.4 * rate) + 1:
        return -math.inf
    with np.errstate(divide="ignore"):
        value = pyloudnorm.Meter(rate).integrated_loudness(samples.astype(np.float64))
    return float(value)


# resample_poly's own anti-imaging filter for 4× (Kaiser β = 5, ten zero crossings a side), made once
_HALF = 10 * OVERSAMPLE
_TAPS = (firwin(2 * _HALF + 1, 1 / OVERSAMPLE, window=("kaiser", 5.0)) * OVERSAMPLE).astype(np.float32)


def peak_envelope(samples: np.ndarray) -> np.ndarray:
    """Per input sample, the largest oversampled magnitude between it and the next one."""
    x = samples if samples.ndim == 2 else samples[:, None]
    up = upfirdn(_TAPS, x.astype(np.float32, copy=False), OVERSAMPLE, 1, axis=0)[_HALF: _HALF + OVERSAMPLE * len(x)]
    return np.abs(up.reshape(len(x), -1)).max(axis=1)


def true_peak_dbtp(samples: np.ndarray) -> float:
    """True peak in dBTP (4× oversampling, as BS.1770-4 Annex 2)."""
    if len(samples) == 0:
        return -math.inf
    peak = float(peak_envelope(samples).max())
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def limit(samples: np.ndarray, rate: int, ceiling_dbtp: float,
          envelope: np.ndarray | None = None) -> np.ndarray:
    """Smoothly reduce gain wherever the true peak would pass the ceiling.

    The gain curve is a moving minimum of the gain each sample needs, then a moving
    average over the same window: the average of minima that each include a sample
    is never above what that sample needs, so the ceiling holds while the gain
    changes slowly enough not to be heard as distortion. ``envelope`` is
    ``peak_envelope(samples)`` when the caller already has it.
    """
    ceiling = db_to_gain(ceiling_dbtp)
    env = peak_envelope(samples) if envelope is None else envelope
    need = np.minimum(1.0, ceiling / np.maximum(env, 1e-12))
    if need.min() >= 1.0:
        return samples
    size = 2 * int(LIMITER_WINDOW_S * rate) + 1
    gain = uniform_filter1d(minimum_filter1d(need, size, mode="nearest"), size, mode="nearest")
    gain = np.minimum(gain, 1.0)
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
