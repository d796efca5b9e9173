"""Assembling a bulletin: jingles, gaps, readings, pauses, channels."""

from __future__ import annotations

import numpy as np
import pytest

from broadcaster.audio import mix as render

RATE = 8000


def tone(seconds: float) -> np.ndarray:
    return (0.5 * np.sin(np.arange(int(seconds * RATE)) * 0.3)).astype(np.float32)


def test_layout_is_jingle_gap_readings_gap_jingle():
    text = tone(2.0)
    a = render.assemble(text, RATE, repeat=3, gap=0.5, jingle_in=tone(1.0), jingle_out=tone(0.75))
    assert [s.kind for s in a.segments] == ["jingle_in", "gap", "reading", "gap", "reading", "gap",
                                            "reading", "gap", "jingle_out"]
    assert a.duration == pytest.approx(1.0 + 0.5 + 3 * 2.0 + 2 * 0.5 + 0.5 + 0.75)
    starts = [s.start for s in a.segments]
    assert starts == sorted(starts) and a.segments[-1].start == pytest.approx(a.duration - 0.75)


def test_no_jingles_means_no_gaps_around_the_text():
    a = render.assemble(tone(2.0), RATE, repeat=1, gap=1.0)
    assert [s.kind for s in a.segments] == ["reading"] and a.duration == pytest.approx(2.0)


def test_reading_trims_engine_silence_and_adds_our_pauses():
    padded = np.concatenate([np.zeros(RATE), tone(1.0), np.zeros(RATE)]).astype(np.float32)
    r = render.reading([[padded, padded], [padded]], RATE)
    one = 1.0 + 2 * render.EDGE_KEEP
    expected = 3 * one + render.SENTENCE_PAUSE + render.PARAGRAPH_PAUSE
    assert len(r) / RATE == pytest.approx(expected, abs=6 / RATE)


def test_resample_and_channels():
    x = tone(1.0)
    y = render.resample(x, RATE, 22050)
    assert len(y) == 22050
    st = render.with_channels(y, 2)
    assert st.shape == (22050, 2) and np.array_equal(st[:, 0], st[:, 1])
