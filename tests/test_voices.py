"""Better voices: the edge and piper engines, the preference list, `broadcaster voices`."""

from __future__ import annotations

import shutil

import pytest

from broadcaster.engines.edge import EdgeEngine
from broadcaster.errors import EngineUnavailable, SynthesisError
from tests.conftest import BASE_CONFIG


def edge(**kw):
    waits: list[float] = []
    return EdgeEngine(sleep=waits.append, backoff=0.5, **kw), waits


def test_edge_sends_voice_rate_and_pitch_in_its_ssml(fake_edge):
    e, _ = edge()
    e.synthesize("Xin chào bà con.", "male", 1.2, pitch=-5)
    assert fake_edge.texts == ["Xin chào bà con."]
    ssml = fake_edge.ssml[0]
    assert "vi-VN, NamMinhNeural" in ssml or "vi-VN-NamMinhNeural" in ssml
    assert "rate='+20%'" in ssml and "pitch='-5Hz'" in ssml


def test_edge_retries_429_and_5xx_then_succeeds(fake_edge):
    fake_edge.plan = [429, 503]
    e, waits = edge()
    assert e.synthesize("Xin chào.", "vi", 1.0).duration > 0.3
    assert waits == [0.5, 1.0]


def test_edge_permanent_refusal_and_garbage_are_clear_errors(fake_edge):
    fake_edge.plan = [500] * 5
    e, waits = edge(retries=2)
    with pytest.raises(SynthesisError, match=r"refused the request \(HTTP 500\) 3 times"):
        e.synthesize("Xin chào.", "vi", 1.0)
    fake_edge.plan = ["garbage"]
    with pytest.raises(SynthesisError, match="without usable audio"):
        e.synthesize("Xin chào.", "vi", 1.0)


def test_edge_unreachable_is_unavailable(monkeypatch):
    from edge_tts import communicate
    monkeypatch.setattr(communicate, "WSS_URL", "ws://127.0.0.1:9/edge/v1?TrustedClientToken=x")
    e, _ = edge()
    assert "cannot be reached" in e.unavailable_reason()
    with pytest.raises(EngineUnavailable):
        e.synthesize("Xin chào.", "vi", 1.0)


PREFERENCE = BASE_CONFIG.replace('engine = "espeak"', 'engine = ["edge", "gtts", "piper", "espeak"]')


def test_preference_list_falls_back_one_engine_at_a_time(project, fake_edge, fake_google, piper_voices):
    project.write("schedule.toml", PREFERENCE)
    shutil.copytree(piper_voices, project.root / "voices")
    r = project.run("build")
    assert r.code == 0 and project.sidecar("thong-bao")["engine"] == "edge"
    expected = ["gtts", "piper", "espeak"]
    breakers = [lambda: fake_edge.plan.extend([403] * 50),           # edge refuses
                lambda: fake_google.plan.extend([400] * 50),         # Google refuses
                lambda: shutil.rmtree(project.root / "voices")]      # the Piper model is gone
    for i, (engine, breaker) in enumerate(zip(expected, breakers)):
        breaker()
        # a new sentence, so that the cache cannot answer for the engine that was just broken
        project.write("scripts/thong_bao.txt", f"Thông báo số {i + 2} của xã Quảng An.\n")
        r = project.run("build")
        assert r.code == 0, r.err
        assert project.sidecar("thong-bao")["engine"] == engine, r.err
    assert "edge: Microsoft's speech service rejected the request (HTTP 403)" in r.err
    assert "piper: no Piper voice model (.onnx)" in r.err


def test_piper_voice_from_the_config_and_its_errors(project, piper_voices):
    shutil.copytree(piper_voices, project.root / "voices")
    cfg = BASE_CONFIG.replace('engine = "espeak"\nvoice = "vi"', 'engine = "piper"\nvoice = "voices/vi_VN-tiny-test.onnx"')
    project.write("schedule.toml", cfg)
    r = project.run("build")
    assert r.code == 0, r.err
    side = project.sidecar("thong-bao")
    assert side["engine"] == "piper" and side["voice"].endswith("vi_VN-tiny-test.onnx")
    (project.root / "voices" / "vi_VN-tiny-test.onnx.json").unlink()
    r = project.run("build")
    assert r.code == 2
    assert 'voice model "voices/vi_VN-tiny-test.onnx" has no "voices/vi_VN-tiny-test.onnx.json" beside it' in r.err
    project.write("schedule.toml", cfg.replace("vi_VN-tiny-test.onnx", "khong-co.onnx"))
    r = project.run("build")
    assert r.code == 2 and 'voice model "voices/khong-co.onnx" does not exist' in r.err


def test_a_new_voice_model_never_replays_the_old_cache(project, piper_voices):
    from tests.tiny_piper import build
    shutil.copytree(piper_voices, project.root / "voices")
    project.write("schedule.toml", BASE_CONFIG.replace('engine = "espeak"', 'engine = "piper"'))
    assert "3 sentences synthesised" in project.run("build").out
    assert "0 sentences synthesised" in project.run("build", "--force").out
    build(project.root / "voices" / "vi_VN-tiny-test.onnx", sample_rate=22050)  # same name, new model
    assert "3 sentences synthesised" in project.run("build").out


def test_voices_command_lists_engines_availability_and_voices(project, fake_edge, piper_voices):
    shutil.copytree(piper_voices, project.root / "voices")
    r = project.run("voices")
    assert r.code == 0
    out = r.out
    assert "edge (online): available" in out
    assert "vi-VN-HoaiMyNeural" in out and "female" in out and "vi-VN-NamMinhNeural" in out
    assert "espeak (offline): available" in out and "vi-vn-x-central" in out and "Central" in out
    assert "gtts (online): not available: Google Translate cannot be reached" in out
    assert "piper (offline): available" in out and "voices/vi_VN-tiny-test.onnx" in out
    shutil.rmtree(project.root / "voices")
    assert "piper (offline): not available: no Piper voice model" in project.run("voices").out
