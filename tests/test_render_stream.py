"""Rendering in constant memory: the streaming master gives what the whole-signal one gives, and a
long bulletin renders in a process whose memory is capped."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcaster.audio import loudness
from broadcaster.audio import mix
from broadcaster.audio.master import CHUNK, Master, Timeline, measure_file
from broadcaster.audio.meter import FINE, Meter, PeakFinder, block_envelopes, block_peaks, near_bound
from tests.test_loudness import RATE, speechlike


def stream(tmp_path, x: np.ndarray, pieces: int, weight: float = 1.0) -> Timeline:
    t = Timeline(tmp_path, RATE, weight)
    for part in np.array_split(x, pieces):
        t.write(part)
    t.close()
    return t


@settings(max_examples=12, deadline=None)
@given(seconds=st.floats(3, 40), peak=st.floats(0.05, 1.0), seed=st.integers(0, 1000),
       target=st.floats(-28, -14), ceiling=st.floats(-3, -0.5), pieces=st.integers(1, 300))
def test_streaming_master_matches_the_whole_signal_master(tmp_path_factory, seconds, peak, seed, target, ceiling,
                                                           pieces):
    x = speechlike(seconds, peak, seed)
    whole = loudness.trim_peak(loudness.normalize(x, RATE, target, ceiling), ceiling)
    t = stream(tmp_path_factory.mktemp("t"), x, pieces)
    try:
        m = Master(t, ceiling)
        gain_db, trim_db = m.solve(target)
        out = mix.Collect()
        m.write(out.write, gain_db, trim_db)
    finally:
        t.dispose()
    y = out.samples()
    assert len(y) == len(x)
    # the same limiter; the streaming search estimates each step's loudness from per-block energies
    # (within 0.002 LU), so the two searches may stop at different points within their 0.05 LU
    reached = loudness.integrated_loudness(whole, RATE)
    if abs(reached - target) <= 0.05:      # else the limiter holds it under the target whatever the gain
        assert loudness.integrated_loudness(y, RATE) == pytest.approx(target, abs=0.06)
    assert loudness.integrated_loudness(y, RATE) == pytest.approx(reached, abs=0.1)
    assert loudness.true_peak_dbtp(y) == pytest.approx(loudness.true_peak_dbtp(whole), abs=0.1)
    assert loudness.true_peak_dbtp(y) <= ceiling + 1e-3
    assert (np.abs(y - whole) <= 0.012 * np.abs(whole) + 1e-5).all()    # sample by sample within 0.1 dB


@settings(max_examples=15, deadline=None)
@given(seconds=st.floats(0.1, 30), seed=st.integers(0, 1000), block=st.integers(100, 20000),
       channels=st.sampled_from([1, 2]))
def test_block_meters_match_the_whole_signal_meters(seconds, seed, block, channels):
    x = speechlike(seconds, 0.9, seed)
    if channels == 2:
        x = np.stack([x, speechlike(seconds, 0.5, seed + 1)], axis=1)
    meter, peaks = Meter(RATE), PeakFinder()
    for i in range(0, len(x), block):
        meter.add(x[i:i + block])
        peaks.add(x[i:i + block])
    whole = loudness.integrated_loudness(x, RATE)
    if np.isfinite(whole):
        assert meter.loudness() == pytest.approx(whole, abs=1e-6)
    else:
        assert meter.loudness() == whole
    assert peaks.finish() == pytest.approx(loudness.true_peak_dbtp(x), abs=1e-5)


@settings(max_examples=10, deadline=None)
@given(seconds=st.floats(0.01, 5), seed=st.integers(0, 1000))
def test_block_envelopes_are_the_true_peak_envelope_and_the_bound_holds(seconds, seed):
    x = speechlike(seconds, 0.9, seed)
    full = loudness.peak_envelope(x)
    blocks = -(-len(x) // FINE)
    padded = np.zeros(9 + blocks * FINE + 10, np.float32)
    padded[9: 9 + len(x)] = x
    padded_full = np.zeros(blocks * FINE, np.float32)
    padded_full[:len(x)] = full
    env = block_envelopes(padded, 9 + np.arange(blocks) * FINE)
    assert np.abs(env.ravel()[:len(x)] - full).max() < 1e-6
    assert (near_bound(block_peaks(x)) >= padded_full.reshape(blocks, FINE).max(axis=1)).all()


def test_a_bulletin_streamed_to_disk_sounds_as_the_in_memory_pipeline(tmp_path):
    """The same speech, jingles and settings, both ways: the file is the in-memory master's, encoded."""
    from broadcaster.audio.files import decode_file, encode_file
    from broadcaster.config import AudioSettings, TTSSettings
    from broadcaster.render.build import render_audio, _at_rate
    from broadcaster.render.speech import SentenceCache, Speaker
    paragraphs = [["Kính thưa bà con.", "Hôm nay trời nắng."], ["Xin cảm ơn."]]
    tts = TTSSettings(engines=("espeak",))
    audio = AudioSettings(format="wav", repeat=2, gap=0.7)
    speaker = Speaker(SentenceCache(tmp_path / "cache"))
    jingle = (0.5 * np.sin(np.arange(int(1.5 * audio.sample_rate)) * 0.05)).astype(np.float32)
    r = render_audio(paragraphs, tts, audio, speaker=speaker, jingle_in=jingle, jingle_out=None,
                     target=tmp_path / "streamed.wav", tags={})
    spoken = speaker.speak(tts, [s for p in paragraphs for s in p])
    it = iter(range(len(spoken.speeches)))
    text = mix.reading([[_at_rate(spoken.speeches[next(it)], audio.sample_rate) for _s in p] for p in paragraphs],
                       audio.sample_rate)
    laid = mix.assemble(text, audio.sample_rate, repeat=2, gap=0.7, jingle_in=jingle)
    whole = loudness.trim_peak(loudness.normalize(laid.samples, audio.sample_rate, audio.loudness,
                                                  audio.true_peak), audio.true_peak)
    for _try in range(3):   # as renders did: measure the written file, correct the encoder's drift
        encode_file(tmp_path / "whole.wav", whole, audio.sample_rate, "wav", {})
        decoded, _r = decode_file(tmp_path / "whole.wav")
        tp, lufs = loudness.true_peak_dbtp(decoded), loudness.integrated_loudness(decoded, audio.sample_rate)
        if tp <= audio.true_peak and abs(audio.loudness - lufs) <= 0.2:
            break
        whole = whole * loudness.db_to_gain(min(audio.loudness - lufs, audio.true_peak - 0.1 - tp))
    streamed, rate = decode_file(tmp_path / "streamed.wav")
    reference, _r = decode_file(tmp_path / "whole.wav")
    assert [(s.kind, round(s.start, 3), round(s.duration, 3)) for s in r.segments] == \
        [(s.kind, round(s.start, 3), round(s.duration, 3)) for s in laid.segments]
    assert len(streamed) == len(reference) and np.abs(streamed - reference).max() < 2e-3
    lufs, tp, seconds = measure_file(tmp_path / "whole.wav", what="reference")
    assert r.loudness_lufs == pytest.approx(lufs, abs=0.1) and r.true_peak_dbtp == pytest.approx(tp, abs=0.1)
    assert r.duration_s == pytest.approx(seconds, abs=1e-3)
    assert not list(tmp_path.glob(".render-*"))     # the temporary files went with the render


MEMORY_LIMIT_MB = 400


def _cap_memory() -> None:
    limit = MEMORY_LIMIT_MB << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_a_long_bulletin_renders_within_a_memory_cap(project):
    """Four minutes of MP3 at 44.1 kHz in a process (and its ffmpeg) capped at 400 MB of address space:
    assembling it whole in memory, as renders did, needed about 150 MB a minute on top of the program."""
    sentences = [f"Khoản {n}. Mọi người dân cần thực hiện nghiêm các biện pháp phòng, chống dịch bệnh tại "
                 f"địa phương theo hướng dẫn của cơ quan y tế." for n in range(1, 13)]
    p = project
    p.write("scripts/long.txt", "\n\n".join(sentences))
    p.write("schedule.toml", '[tts]\nengine = "espeak"\n[audio]\nformat = "mp3"\nrepeat = 4\ngap = 1.0\n'
                             '[bulletins.long]\nscript = "scripts/long.txt"\n')
    # RLIMIT_AS counts address space: glibc reserves 64 MB of it for each thread that allocates
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}
    run = subprocess.run([sys.executable, "-m", "broadcaster", "build"], cwd=p.root, env=env,
                         preexec_fn=_cap_memory, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    side = p.sidecar("long")
    assert side["duration_s"] > 4 * 60 and side["loudness_lufs"] == pytest.approx(-16.0, abs=0.2)
    assert side["true_peak_dbtp"] <= -1.0
    lufs, tp, seconds = measure_file(p.root / "audio_out" / "long.mp3", what="the bulletin")
    assert seconds == pytest.approx(side["duration_s"], abs=0.1) and lufs == pytest.approx(-16.0, abs=0.2)
    assert seconds * 44100 > 20 * CHUNK


def test_a_long_mp3_is_encoded_in_two_halves_joined_in_a_silence(tmp_path):
    """Two encoders on two cores, joined by frame copy: the file measures as one encoded whole does,
    the join falls in a silence (it adds the encoder's padding there, tens of milliseconds), the
    reported duration is the joined file's, the tags are on it and no part file is left behind."""
    import json
    from broadcaster.audio.master import quiet_split
    from broadcaster.config import AudioSettings
    from broadcaster.render.build import _encode
    rate = 44100
    rng = np.random.default_rng(7)
    t = Timeline(tmp_path, rate)
    for _i in range(75):                       # ~150 s: tones of 1–2 s, silences of 0.4–0.6 s
        n = int(rng.uniform(1.0, 2.0) * rate)
        t.write((rng.uniform(0.1, 0.4) * np.sin(2 * np.pi * rng.uniform(200, 900) * np.arange(n) / rate))
                .astype(np.float32))
        t.write(np.zeros(int(rng.uniform(0.4, 0.6) * rate), np.float32))
    t.close()
    try:
        m = Master(t, -1.5)
        gain_db, trim_db = m.solve(-16.0)
        split = quiet_split(t, 120.0)
        assert split is not None and abs(split - t.frames / 2) < 2 * rate
        assert t.read(split - 2000, split + 2000).max() == 0.0          # in a silence
        assert quiet_split(t, 200.0) is None                            # shorter than asked: one encoder
        audio = AudioSettings(format="mp3")
        one = _encode(m, None, tmp_path / "one.mp3", audio, {"title": "Một"}, gain_db, trim_db)
        two = _encode(m, split, tmp_path / "two.mp3", audio, {"title": "Bản tin hai"}, gain_db, trim_db)
    finally:
        t.dispose()
    for path, (lufs, tp, seconds) in ((tmp_path / "one.mp3", one), (tmp_path / "two.mp3", two)):
        real = measure_file(path, what="test")
        assert real[0] == pytest.approx(lufs, abs=0.02) and real[1] == pytest.approx(tp, abs=0.05)
        assert real[2] == pytest.approx(seconds, abs=1e-3)
    assert two[0] == pytest.approx(one[0], abs=0.05) and two[1] == pytest.approx(one[1], abs=0.2)
    assert 0.0 <= two[2] - one[2] < 0.1                                  # the join's padding, no more
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags=title", "-of", "json",
                            str(tmp_path / "two.mp3")], capture_output=True, text=True, check=True)
    assert json.loads(probe.stdout)["format"]["tags"]["title"] == "Bản tin hai"
    from broadcaster.audio.files import decode_file
    a, _r = decode_file(tmp_path / "one.mp3")
    b, _r = decode_file(tmp_path / "two.mp3")
    on_a = np.flatnonzero(np.diff((np.abs(a[:, 0] if a.ndim > 1 else a) > 0.02).astype(int)) == 1)
    on_b = np.flatnonzero(np.diff((np.abs(b[:, 0] if b.ndim > 1 else b) > 0.02).astype(int)) == 1)
    bursts_a = on_a[np.diff(np.concatenate([[-rate], on_a])) > rate // 4]   # the first rise of each tone
    bursts_b = on_b[np.diff(np.concatenate([[-rate], on_b])) > rate // 4]
    assert len(bursts_a) == len(bursts_b) == 75
    shift = (bursts_b - bursts_a) / rate
    assert np.abs(shift[bursts_a < split]).max() < 0.002               # before the join: where they were
    assert 0.0 <= shift[bursts_a > split].min() and shift.max() < 0.1    # after it: later by the padding
    assert not list(tmp_path.glob(".*part*")) and not list(tmp_path.glob(".render-*"))
