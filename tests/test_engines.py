"""One contract for every TTS engine, run against each (gTTS through a fake of its endpoint)."""

from __future__ import annotations

import numpy as np
import pytest

from broadcaster.engines import Engine, create_engine, engine_names
from broadcaster.errors import SynthesisError

SENTENCE = "Kính thưa bà con, xã Quảng An thông báo lịch tiêm phòng."


@pytest.fixture(params=sorted(engine_names()))
def engine(request) -> Engine:
    """Every engine, each through its real code: online ones against a local fake of their service."""
    if request.param == "gtts":
        request.getfixturevalue("fake_google")
    if request.param == "edge":
        request.getfixturevalue("fake_edge")
    if request.param == "piper":
        return create_engine("piper", voices_dir=request.getfixturevalue("piper_voices"))
    return create_engine(request.param)


def test_engine_is_available_here(engine):
    assert engine.unavailable_reason() is None


def test_speaks_a_vietnamese_sentence_as_mono_float_samples(engine):
    speech = engine.synthesize(SENTENCE, "vi", 1.0)
    assert speech.samples.ndim == 1 and speech.samples.dtype == np.float32
    assert 8000 <= speech.sample_rate <= 48000
    assert 1.0 < speech.duration < 15.0
    assert np.abs(speech.samples).max() <= 1.0
    assert np.sqrt(np.mean(speech.samples ** 2)) > 0.005  # not silence


def test_longer_text_takes_longer(engine):
    short = engine.synthesize("Xin chào.", "vi", 1.0)
    long = engine.synthesize(SENTENCE + " " + SENTENCE, "vi", 1.0)
    assert long.duration > short.duration * 2


def test_has_vietnamese_voices_and_a_version(engine):
    voices = engine.voices()
    # an id like vi-VN-HoaiMyNeural, or a Piper model whose language is Vietnamese
    assert voices and all(v.id.startswith("vi") or v.accent.lower().startswith("vi") for v in voices)
    assert engine.version()
    for v in voices:
        assert engine.voice_for(v.id) == v.id
    assert engine.voice_for("vi") == voices[0].id  # the default Vietnamese voice


def test_unknown_voice_is_a_clear_error(engine):
    with pytest.raises(SynthesisError, match="has no voice"):
        engine.voice_for("en-us")


def test_espeak_accents_sound_different():
    e = create_engine("espeak")
    north = e.synthesize("Người dân hãy cài đặt ứng dụng.", "vi", 1.0)
    central = e.synthesize("Người dân hãy cài đặt ứng dụng.", "vi-vn-x-central", 1.0)
    assert north.samples.shape != central.samples.shape or not np.array_equal(north.samples, central.samples)


def test_espeak_rate_changes_duration():
    e = create_engine("espeak")
    slow = e.synthesize(SENTENCE, "vi", 0.7)
    fast = e.synthesize(SENTENCE, "vi", 1.4)
    assert slow.duration > fast.duration * 1.5


def test_espeak_reads_in_its_measured_style_with_gaps_between_words():
    """The default style (chosen by bench/intelligibility.py) adds 20 ms between words: slower, never
    faster than espeak-ng's own reading; the cache tells the two apart."""
    text = "Kính thưa toàn thể nhân dân trong xã, mời bà con đến họp."
    plain, calm = create_engine("espeak", style="plain"), create_engine("espeak")
    assert calm.style_name == "gap2" and calm.style["gap"] == 2
    assert calm.synthesize(text, "vi", 1.0).duration > plain.synthesize(text, "vi", 1.0).duration + 0.15
    assert calm.cache_tag("vi") != plain.cache_tag("vi")


def test_espeak_missing_from_path_names_the_package(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    e = create_engine("espeak")
    assert "espeak-ng" in e.unavailable_reason()
    with pytest.raises(SynthesisError) as info:
        e.synthesize("Xin chào.", "vi", 1.0)
    assert "apt-get install espeak-ng" in str(info.value)
