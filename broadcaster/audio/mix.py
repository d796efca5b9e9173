"""A bulletin from speech, jingles and gaps, loudness-normalised. Pure numpy.

Layout: jingle in, gap, the text read ``repeat`` times with a gap between,
gap, jingle out. Within a reading, sentences are separated by a short pause and
paragraphs by a longer one. Without a jingle, its gap is left out too.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np
from scipy.signal import resample_poly

from broadcaster.audio import loudness

SENTENCE_PAUSE = 0.45   # seconds between sentences
PARAGRAPH_PAUSE = 1.0   # seconds between paragraphs
SILENCE_DB = -50.0      # what counts as silence when trimming engine output
EDGE_KEEP = 0.03        # seconds of the trimmed silence kept at each edge


@dataclass(frozen=True)
class Segment:
    kind: str      # jingle_in | gap | reading | jingle_out
    start: float
    duration: float


@dataclass(frozen=True)
class Assembled:
    samples: np.ndarray  # float32, (frames,) or (frames, channels)
    rate: int
    segments: tuple[Segment, ...]

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate


def resample(samples: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst:
        return samples.astype(np.float32)
    g = gcd(src, dst)
    return resample_poly(samples, dst // g, src // g, axis=0).astype(np.float32)


def to_mono(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def with_channels(mono: np.ndarray, channels: int) -> np.ndarray:
    return mono if channels == 1 else np.repeat(mono[:, None], channels, axis=1)


def trim_silence(samples: np.ndarray, rate: int) -> np.ndarray:
    """Cut leading and trailing silence so that pauses are ours, not the engine's."""
    loud = np.flatnonzero(np.abs(samples) > loudness.db_to_gain(SILENCE_DB))
    if len(loud) == 0:
        return samples[:0]
    keep = int(EDGE_KEEP * rate)
    return samples[max(0, loud[0] - keep): loud[-1] + 1 + keep]


def silence(seconds: float, rate: int) -> np.ndarray:
    return np.zeros(int(round(seconds * rate)), dtype=np.float32)


def reading(paragraphs: list[list[np.ndarray]], rate: int) -> np.ndarray:
    """One reading of the text: sentences (mono, at ``rate``) with pauses between."""
    parts: list[np.ndarray] = []
    for p, sentences in enumerate(paragraphs):
        if p:
            parts.append(silence(PARAGRAPH_PAUSE, rate))
        for s, speech in enumerate(sentences):
            if s:
                parts.append(silence(SENTENCE_PAUSE, rate))
            parts.append(trim_silence(speech, rate))
    return np.concatenate(parts) if parts else silence(0, rate)


def assemble(text: np.ndarray, rate: int, *, repeat: int, gap: float,
             jingle_in: np.ndarray | None = None, jingle_out: np.ndarray | None = None) -> Assembled:
    """Lay out jingles, readings and gaps (all mono at ``rate``) on one timeline."""
    pieces: list[tuple[str, np.ndarray]] = []
    if jingle_in is not None:
        pieces += [("jingle_in", jingle_in), ("gap", silence(gap, rate))]
    for i in range(repeat):
        if i:
            pieces.append(("gap", silence(gap, rate)))
        pieces.append(("reading", text))
    if jingle_out is not None:
        pieces += [("gap", silence(gap, rate)), ("jingle_out", jingle_out)]
    segments, t = [], 0
    for kind, arr in pieces:
        segments.append(Segment(kind, t / rate, len(arr) / rate))
        t += len(arr)
    return Assembled(np.concatenate([a for _k, a in pieces]).astype(np.float32), rate, tuple(segments))


def master(samples: np.ndarray, rate: int, channels: int, target_lufs: float,
           ceiling_dbtp: float) -> np.ndarray:
    """Loudness-normalise and limit a mono bulletin, then lay it out on ``channels``."""
    out = loudness.normalize(samples, rate, target_lufs, ceiling_dbtp)
    return with_channels(loudness.trim_peak(out, ceiling_dbtp), channels)
