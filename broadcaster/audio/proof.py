"""Proof of air: does what a monitor input heard match the audio that was sent?

Both sides are reduced the same way, block by block as they come: mono, band-passed to the
speech band (300-3,400 Hz, where a horn loudspeaker and a microphone agree), and the power of
each 20 ms frame, time-stamped on the wall clock. An airing is then matched by cross-correlating
the two envelopes (log power with its slow trend removed: the rhythm of syllables and pauses,
which survives a quieter copy, a mixer's gain and street noise) over the delays a sound card,
a mixer and the air can add. Pure: values in, values out; no clock, no device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_RATE = 50          # envelope frames per second (20 ms)
BAND = (300.0, 3400.0)   # Hz: the speech band
MAX_DELAY = 3.0          # seconds the monitor may hear later than the output sent (sound card, mixer, air)
MIN_DELAY = -1.0         # and earlier (the clock mappings of two streams disagree: -0.26 to -0.5 s
                         # seen between a PulseAudio null sink and its monitor)
WINDOW = 4.0             # seconds: the pieces an airing is checked in, to say where sound stopped
FOUND_SCORE = 0.3        # correlation of the whole airing at its delay, for it to be there at all
CONFIRM_SCORE = 0.35     # and for `confirmed`
PIECE_SCORE = 0.3        # correlation of a piece, for it to count as heard
PROMINENCE = 2.0         # the best delay must correlate this many times better than any other delay
                         # half a second or more away (speech, noise or another programme stay under 1.5)
HEARD_FRACTION = 0.9     # pieces heard, of those with sound sent, for `confirmed`
MIN_LENGTH = 5.0         # seconds: a shorter airing has too little rhythm to tell it from other sound


def dbfs(power) -> np.ndarray:
    """Mean square power of a full-scale-1 signal as dBFS (a full-scale sine is -3 dBFS)."""
    return 10 * np.log10(np.maximum(np.asarray(power, dtype=np.float64), 1e-12))


class SampleClock:
    """Wall-clock times of samples that come in blocks, counted from the first.

    A block can reach us late (a burst after a stall, a busy PC), never before it was recorded:
    so the anchor is the earliest the blocks' arrival times allow, allowed to creep later by
    ``DRIFT`` (the sound card's crystal against the PC's clock). A lost stretch starts again."""

    DRIFT = 2e-4

    def __init__(self, rate: int):
        self.rate, self.count = rate, 0
        self.anchor: float | None = None
        self.last = 0.0

    def stamp(self, frames: int, arrived: float, lost: bool = False) -> float:
        """The time of the first sample of a block of ``frames`` whose last sample was recorded by ``arrived``."""
        if lost:
            self.anchor, self.count = None, 0
        bound = arrived - (self.count + frames) / self.rate
        self.anchor = bound if self.anchor is None else min(self.anchor + (arrived - self.last) * self.DRIFT, bound)
        self.last = arrived
        t = self.anchor + self.count / self.rate
        self.count += frames
        return t


class Envelope:
    """The 20 ms frames of a stream, computed as blocks arrive: time, band power, full-band level."""

    def __init__(self, rate: int, capacity_s: float):
        from scipy.signal import butter, sosfilt_zi
        self.rate = rate
        self.hop = max(1, int(round(rate / FRAME_RATE)))
        self.sos = butter(2, BAND, btype="bandpass", fs=rate, output="sos")
        self.zi = sosfilt_zi(self.sos) * 0.0
        self.carry_band = np.zeros(0, dtype=np.float64)
        self.carry_full = np.zeros(0, dtype=np.float64)
        self.track = Track(int(capacity_s * FRAME_RATE) + 1)

    def feed(self, block: np.ndarray, first_sample_time: float) -> None:
        """Add a block ((frames,) or (frames, channels)) whose first sample was at ``first_sample_time``."""
        from scipy.signal import sosfilt
        mono = block.mean(axis=1) if block.ndim == 2 else block
        mono = mono.astype(np.float64)
        band, self.zi = sosfilt(self.sos, mono, zi=self.zi)
        start = first_sample_time - len(self.carry_band) / self.rate
        band = np.concatenate([self.carry_band, band * band])
        full = np.concatenate([self.carry_full, mono * mono])
        k = len(band) // self.hop
        if k:
            n = k * self.hop
            self.track.append(start + np.arange(k) * (self.hop / self.rate),
                              band[:n].reshape(k, self.hop).mean(axis=1),
                              full[:n].reshape(k, self.hop).mean(axis=1))
        self.carry_band, self.carry_full = band[k * self.hop:], full[k * self.hop:]


class Track:
    """A ring of envelope frames (time, band power, level power), flat in memory."""

    def __init__(self, capacity: int):
        self.t = np.zeros(capacity)
        self.band = np.zeros(capacity, dtype=np.float32)
        self.full = np.zeros(capacity, dtype=np.float32)
        self.n = 0   # frames ever appended

    def append(self, t: np.ndarray, band: np.ndarray, full: np.ndarray) -> None:
        cap = len(self.t)
        if len(t) >= cap:
            t, band, full = t[-cap:], band[-cap:], full[-cap:]
        idx = (self.n + np.arange(len(t))) % cap
        self.t[idx], self.band[idx], self.full[idx] = t, band, full
        self.n += len(t)

    @property
    def last_time(self) -> float | None:
        return float(self.t[(self.n - 1) % len(self.t)]) if self.n else None

    def tail(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The last ``k`` frames (fewer if the ring holds fewer), in time order."""
        cap = len(self.t)
        k = min(k, self.n, cap)
        order = (self.n - k + np.arange(k)) % cap
        return self.t[order], self.band[order], self.full[order]

    def span(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The frames from ``t0`` to ``t1``, in time order."""
        cap = len(self.t)
        count = min(self.n, cap)
        order = (self.n - count + np.arange(count)) % cap
        t = self.t[order]
        keep = (t >= t0) & (t < t1)
        return t[keep], self.band[order][keep], self.full[order][keep]


def _floor(power: np.ndarray) -> float:
    """30 dB under the loud part of a stretch: below it is a pause (or silence)."""
    return float(np.percentile(power, 95)) * 1e-3


def _feature(band: np.ndarray) -> np.ndarray:
    """Log band power with its 1-second trend removed: the rhythm of the sound, not its level.
    (``match`` calls it with at least MIN_LENGTH seconds of frames.)"""
    x = np.log10(band + max(_floor(band), 1e-13))
    k = FRAME_RATE
    pad = np.pad(x, (k // 2, k - k // 2 - 1), mode="edge")
    x = x - np.convolve(pad, np.ones(k) / k, mode="valid")
    return x - x.mean()


def _grid(t: np.ndarray, v: np.ndarray, start: float, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Values on a regular 50 Hz grid from ``start`` (and which grid points have a frame near them)."""
    g = start + np.arange(count) / FRAME_RATE
    if len(t) == 0:
        return np.zeros(count), np.zeros(count, dtype=bool)
    vals = np.interp(g, t, v)
    pos = np.clip(np.searchsorted(t, g), 1, max(1, len(t) - 1))
    near = np.minimum(np.abs(t[pos - 1] - g), np.abs(t[np.minimum(pos, len(t) - 1)] - g)) <= 2.0 / FRAME_RATE
    return vals, near


@dataclass(frozen=True)
class Match:
    verdict: str                  # confirmed, partial, unheard, or unchecked (the monitor heard nothing at all)
    score: float                  # correlation at the best delay, -1..1
    delay_ms: float | None        # how much later the monitor heard it than it was sent
    heard: float                  # fraction of the pieces with sound sent that were heard
    missing: tuple[tuple[float, float], ...] = ()   # (from, to) seconds into the airing not heard
    length: float = 0.0           # seconds of the airing compared

    @property
    def stopped_at(self) -> float | None:
        """Seconds into the airing where sound stopped for good, if it did."""
        if self.missing and self.missing[-1][1] >= self.length - WINDOW:
            return self.missing[-1][0]
        return None


def match(sent: tuple, heard: tuple, *, max_delay: float = MAX_DELAY) -> Match:
    """Compare the sent frames ``(t, band, full)`` of an airing with what the monitor heard around them."""
    st, sb, _sf = sent
    if len(st) < MIN_LENGTH * FRAME_RATE:
        return Match("unchecked", 0.0, None, 0.0, length=len(st) / FRAME_RATE)
    t0 = float(st[0])
    n = int(round((st[-1] - t0) * FRAME_RATE)) + 1
    lo, hi = int(np.floor(MIN_DELAY * FRAME_RATE)), int(np.ceil(max_delay * FRAME_RATE))
    ht, hb, _hf = heard
    s, s_near = _grid(st, sb, t0, n)
    h, h_near = _grid(ht, hb, t0 + lo / FRAME_RATE, n + hi - lo)
    if h_near.mean() < 0.5:   # the monitor sent nothing for most of the airing: nothing can be said
        return Match("unchecked", 0.0, None, 0.0, length=n / FRAME_RATE)
    x, y = _feature(s), _feature(h)
    lags = np.arange(lo, hi + 1)
    scores = np.array([_corr(x, y[k - lo:k - lo + n]) for k in lags])
    best = int(np.argmax(scores))
    score = float(scores[best])
    apart = int(0.5 * FRAME_RATE)   # a syllable's rhythm correlates with itself nearby: look further away
    others = np.delete(scores, range(max(0, best - apart), min(len(scores), best + apart + 1)))
    rival = float(others.max()) if len(others) else 0.0
    frac = _parabola(scores, best)
    delay_ms = (lags[best] + frac) * 1000.0 / FRAME_RATE
    at = lags[best] - lo   # the heard frames, aligned with the sent ones
    aligned = y[at:at + n]
    sounding = s > _floor(s)
    heard_flags, pieces = [], []
    step = int(WINDOW * FRAME_RATE)
    for a in range(0, n, step):
        b = min(n, a + step)
        if b - a < step // 2 or sounding[a:b].mean() < 0.3:
            continue   # a short tail, or a pause in what was sent: nothing to hear
        pieces.append((a / FRAME_RATE, b / FRAME_RATE))
        heard_flags.append(_corr(x[a:b], aligned[a:b]) >= PIECE_SCORE)
    found = score >= FOUND_SCORE and score >= PROMINENCE * max(rival, 0.05)
    fraction = float(np.mean(heard_flags)) if heard_flags else (1.0 if found else 0.0)
    missing = _runs([p for p, ok in zip(pieces, heard_flags) if not ok])
    if missing:   # a stretch the monitor heard nothing at all in began when its last sound did
        raw = h[at:at + n]
        quiet = raw <= _floor(raw)
        missing = [(_back_to_sound(quiet, int(a * FRAME_RATE), int(b * FRAME_RATE)) / FRAME_RATE, b)
                   for a, b in missing]
    if found and score >= CONFIRM_SCORE and fraction >= HEARD_FRACTION:
        verdict = "confirmed"
    elif found and fraction > 0:
        verdict = "partial"
    else:
        verdict = "unheard"
    return Match(verdict, round(score, 3), round(float(delay_ms), 1) if found else None, round(fraction, 3),
                 tuple(missing), n / FRAME_RATE)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-12 else 0.0


def _parabola(v: np.ndarray, i: int) -> float:
    """Sub-frame offset of a peak from its neighbours."""
    if 0 < i < len(v) - 1:
        den = v[i - 1] - 2 * v[i] + v[i + 1]
        if abs(den) > 1e-12:
            return float(np.clip(0.5 * (v[i - 1] - v[i + 1]) / den, -0.5, 0.5))
    return 0.0


def _back_to_sound(quiet: np.ndarray, a: int, b: int) -> int:
    """Where a silent stretch [a, b) really began: back to just after the last sound before it."""
    if not quiet[a:b].all():
        return a
    j = a
    while j > max(0, a - int(WINDOW * FRAME_RATE)) and quiet[j - 1]:
        j -= 1
    return j


def _runs(pieces: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Adjacent pieces joined into stretches."""
    out: list[tuple[float, float]] = []
    for a, b in pieces:
        if out and abs(out[-1][1] - a) < 1e-6 + WINDOW:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out
