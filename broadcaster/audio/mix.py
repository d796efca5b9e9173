"""A bulletin from speech, jingles and gaps, laid out into a sink (on disk or in memory). Pure numpy.

Layout: jingle in, gap, the text read ``repeat`` times with a gap between,
gap, jingle out. Within a reading, sentences are separated by a short pause and
paragraphs by a longer one. Without a jingle, its gap is left out too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import soxr

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
    return soxr.resample(np.ascontiguousarray(samples, dtype=np.float32), src, dst)   # 4× resample_poly's speed


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


class Collect:
    """An in-memory sink for ``read_aloud`` and ``lay_out``: for short audio and tests."""

    def __init__(self):
        self.parts: list[np.ndarray] = []
        self.frames = 0

    def write(self, samples: np.ndarray) -> None:
        self.parts.append(np.asarray(samples, dtype=np.float32))
        self.frames += len(samples)

    def copy(self, start: int, stop: int) -> None:
        self.write(self.samples()[start:stop])

    def samples(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, np.float32)


def read_aloud(sink, paragraphs: list[list[Callable[[], np.ndarray]]], rate: int) -> None:
    """One reading of the text into ``sink``: each sentence (a loader of mono audio at ``rate``,
    called when its turn comes, so only one sentence is in memory) trimmed, pauses between."""
    for p, sentences in enumerate(paragraphs):
        if p:
            sink.write(silence(PARAGRAPH_PAUSE, rate))
        for s, load in enumerate(sentences):
            if s:
                sink.write(silence(SENTENCE_PAUSE, rate))
            sink.write(trim_silence(load(), rate))


def lay_out(sink, rate: int, reading: Callable[[], None], *, repeat: int, gap: float,
            jingle_in: np.ndarray | None = None, jingle_out: np.ndarray | None = None) -> tuple[Segment, ...]:
    """Jingles, readings and gaps (mono at ``rate``) into ``sink``, in order. ``reading()`` writes
    the text once; later readings copy it from the sink."""
    segments: list[Segment] = []

    def piece(kind: str, write: Callable[[], None]) -> None:
        start = sink.frames
        write()
        segments.append(Segment(kind, start / rate, (sink.frames - start) / rate))

    def gap_piece() -> None:
        piece("gap", lambda: sink.write(silence(gap, rate)))

    if jingle_in is not None:
        piece("jingle_in", lambda: sink.write(jingle_in))
        gap_piece()
    first: tuple[int, int] | None = None
    for i in range(repeat):
        if i:
            gap_piece()
        start = sink.frames
        piece("reading", reading if first is None else (lambda a=first: sink.copy(*a)))
        first = first or (start, sink.frames)
    if jingle_out is not None:
        gap_piece()
        piece("jingle_out", lambda: sink.write(jingle_out))
    return tuple(segments)


def reading(paragraphs: list[list[np.ndarray]], rate: int) -> np.ndarray:
    """One reading of the text, in memory: sentences (mono, at ``rate``) with pauses between."""
    sink = Collect()
    read_aloud(sink, [[(lambda s=s: s) for s in p] for p in paragraphs], rate)
    return sink.samples()


def assemble(text: np.ndarray, rate: int, *, repeat: int, gap: float,
             jingle_in: np.ndarray | None = None, jingle_out: np.ndarray | None = None) -> Assembled:
    """Lay out jingles, readings and gaps (all mono at ``rate``) on one timeline, in memory."""
    sink = Collect()
    segments = lay_out(sink, rate, lambda: sink.write(text), repeat=repeat, gap=gap,
                       jingle_in=jingle_in, jingle_out=jingle_out)
    return Assembled(sink.samples(), rate, segments)
