"""Loudness normalisation and the true-peak limiter, on signals with known properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcaster.audio import loudness

RATE = 22050


def speechlike(seconds: float, peakiness: float, seed: int = 1) -> np.ndarray:
    """Bursts of filtered noise with sharp clicks: a wide peak-to-loudness ratio like TTS output."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    noise = rng.standard_normal(n) * 0.05
    envelope = (np.sin(np.arange(n) / RATE * 2 * np.pi * 2.5) > 0).astype(float)
    x = noise * envelope
    clicks = rng.choice(n, size=max(1, int(seconds * 3)), replace=False)
    x[clicks] = peakiness * rng.choice([-1, 1], size=len(clicks))
    return x.astype(np.float32)


def test_true_peak_sees_between_samples():
    # a sine at fs/4 sampled at 45° phase: every sample is 0.707 of the real peak
    n = np.arange(4000)
    x = np.sin(np.pi / 2 * n + np.pi / 4).astype(np.float32)
    assert 20 * np.log10(np.abs(x).max()) == pytest.approx(-3.01, abs=0.05)
    assert loudness.true_peak_dbtp(x) == pytest.approx(0.0, abs=0.3)  # BS.1770-4 meter tolerance


def test_known_loudness_of_a_full_scale_1khz_sine():
    # BS.1770: a 0 dBFS 997 Hz sine in one channel reads -3.01 LUFS
    t = np.arange(48000 * 5) / 48000
    assert loudness.integrated_loudness(np.sin(2 * np.pi * 997 * t), 48000) == pytest.approx(-3.01, abs=0.05)


@settings(max_examples=15, deadline=None)
@given(target=st.floats(-30, -16), ceiling=st.floats(-3, -0.5), peak=st.floats(0.05, 1.0),
       seed=st.integers(0, 1000))
def test_normalize_reaches_target_under_ceiling(target, ceiling, peak, seed):
    x = speechlike(6, peak, seed)
    y = loudness.normalize(x, RATE, target, ceiling)
    assert loudness.integrated_loudness(y, RATE) == pytest.approx(target, abs=0.1)
    assert loudness.true_peak_dbtp(y) <= ceiling + 0.01


def test_limiter_only_touches_what_is_too_loud():
    x = speechlike(4, 0.9)
    y = loudness.limit(x, RATE, -1.0)
    quiet = np.abs(x) < 0.05
    far_from_clicks = np.convolve(np.abs(x) > 0.3, np.ones(int(0.1 * RATE)), "same") == 0  # ±2 windows
    assert np.allclose(x[quiet & far_from_clicks], y[quiet & far_from_clicks])
    assert loudness.true_peak_dbtp(y) <= -1.0 + 1e-3


def test_silence_and_very_short_sound_do_not_crash():
    assert loudness.integrated_loudness(np.zeros(100, np.float32), RATE) == -np.inf
    assert loudness.normalize(np.zeros(RATE, np.float32), RATE, -16, -1).max() == 0
