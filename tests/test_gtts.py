"""gTTS through its real code path against a fake Google endpoint: retries, errors, fallback."""

from __future__ import annotations

import pytest

from broadcaster.engines.gtts import GttsEngine
from broadcaster.errors import EngineUnavailable, SynthesisError
from tests.conftest import BASE_CONFIG


def engine(**kw) -> tuple[GttsEngine, list[float]]:
    waits: list[float] = []
    return GttsEngine(sleep=waits.append, backoff=0.5, **kw), waits


def test_success_sends_the_text_and_decodes_the_mp3(fake_google):
    e, waits = engine()
    speech = e.synthesize("Xin chào bà con.", "vi", 1.0)
    assert fake_google.texts == ["Xin chào bà con."]
    assert speech.sample_rate == 24000 and speech.duration > 0.5
    assert waits == []


def test_429_then_success_retries_after_backing_off(fake_google):
    fake_google.plan = [429, 503]
    e, waits = engine()
    e.synthesize("Xin chào.", "vi", 1.0)
    assert fake_google.texts == ["Xin chào."]
    assert waits == [0.0, 0.0]  # the fake says Retry-After: 0


def test_backoff_doubles_without_retry_after(network):
    import responses
    from tests.conftest import GTTS_URL, gtts_answer
    network.add(responses.POST, GTTS_URL, status=500)
    network.add(responses.POST, GTTS_URL, status=500)
    network.add(responses.POST, GTTS_URL, body=gtts_answer("Xin chào."))
    e, waits = engine()
    e.synthesize("Xin chào.", "vi", 1.0)
    assert waits == [0.5, 1.0]


def test_permanent_failure_is_a_clear_error_after_the_retries(fake_google):
    fake_google.plan = [500] * 10
    e, waits = engine(retries=3)
    with pytest.raises(SynthesisError) as info:
        e.synthesize("Xin chào.", "vi", 1.0)
    assert "HTTP 500" in str(info.value) and "4 times" in str(info.value)
    assert "--engine espeak" in str(info.value)
    assert len(waits) == 3


def test_garbage_answer_is_not_retried(fake_google):
    fake_google.plan = ["garbage"]
    e, waits = engine()
    with pytest.raises(SynthesisError, match="without audio"):
        e.synthesize("Xin chào.", "vi", 1.0)
    assert waits == []


def test_timeouts_are_retried(network):
    import requests
    import responses
    from tests.conftest import GTTS_URL, gtts_answer
    network.add(responses.POST, GTTS_URL, body=requests.exceptions.ReadTimeout("slow"))
    network.add(responses.POST, GTTS_URL, body=gtts_answer("Xin chào."))
    e, waits = engine()
    assert e.synthesize("Xin chào.", "vi", 1.0).duration > 0
    assert waits == [0.5]


def test_no_network_makes_the_engine_unavailable(network):
    e, _ = engine()
    assert "cannot be reached" in e.unavailable_reason()
    with pytest.raises(EngineUnavailable):
        e.synthesize("Xin chào.", "vi", 1.0)


AUTO = BASE_CONFIG.replace('engine = "espeak"', 'engine = ["gtts", "espeak"]')


def test_auto_uses_google_when_reachable(project, fake_google):
    project.write("schedule.toml", AUTO)
    r = project.run("build")
    assert r.code == 0, r.err
    assert project.sidecar("thong-bao")["engine"] == "gtts"
    assert len(fake_google.texts) == 3
    assert "warning" not in r.err


def test_auto_falls_back_to_espeak_when_google_keeps_failing(project, fake_google):
    project.write("schedule.toml", AUTO)
    fake_google.plan = [500] * 100
    r = project.run("build")
    assert r.code == 0, r.err
    assert project.sidecar("thong-bao")["engine"] == "espeak"
    assert "warning: speaking with espeak (espeak-ng, offline voice): " in r.err
    assert "gtts: Google Translate refused the request (HTTP 500)" in r.err
    assert "espeak-ng, offline voice" in r.out


def test_auto_falls_back_when_offline(project):
    project.write("schedule.toml", AUTO)
    r = project.run("build")
    assert r.code == 0, r.err
    assert "Google Translate cannot be reached" in r.err
    assert project.sidecar("thong-bao")["engine"] == "espeak"
    # one line saying which voice is used and why (issue 38, 12: it was a warning for each engine skipped)
    warnings = [line for line in r.err.splitlines() if line.startswith("warning")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: speaking with espeak"), r.err


def test_gtts_alone_fails_with_a_clear_error_and_exit_1(project, fake_google):
    project.write("schedule.toml", BASE_CONFIG.replace('engine = "espeak"', 'engine = "gtts"'))
    fake_google.plan = [500] * 100
    r = project.run("build")
    assert r.code == 1
    assert "thong-bao" in r.err and "HTTP 500" in r.err and "Traceback" not in r.err
    assert not (project.root / "audio_out" / "thong-bao.wav").exists()


def test_offline_bulletin_is_upgraded_to_the_online_voice_when_back_online(project, network):
    project.write("schedule.toml", AUTO)
    assert project.run("build").code == 0
    assert project.sidecar("thong-bao")["engine"] == "espeak"
    r = project.run("build")  # still offline: nothing to do
    assert "up to date" in r.out
    from tests.conftest import FakeGoogle
    FakeGoogle(network)
    r = project.run("build")
    assert "built" in r.out and project.sidecar("thong-bao")["engine"] == "gtts"


def test_bulletin_that_fell_back_while_speaking_is_up_to_date_when_still_offline(project, fake_google, network):
    project.write("schedule.toml", AUTO)
    fake_google.plan = [500] * 100  # reachable, but every request fails: espeak takes over mid-build
    assert project.run("build").code == 0
    assert project.sidecar("thong-bao")["engine"] == "espeak"
    import responses
    from tests.conftest import PROBE_URL
    network.remove(responses.HEAD, PROBE_URL)  # now the network is down altogether
    r = project.run("build")
    assert "1 up to date" in r.out and "0 built" in r.out


def test_offline_with_every_engine_in_the_list_says_once_which_voice_speaks_and_why(project):
    """Issue 38, 12: offline, `auto` (edge → gtts → piper → espeak) printed three fallback warnings for every
    build; now one line names the voice used and why each before it could not."""
    project.write("schedule.toml", BASE_CONFIG.replace('engine = "espeak"', 'engine = "auto"'))
    r = project.run("build")
    assert r.code == 0, r.err
    warnings = [line for line in r.err.splitlines() if line.startswith("warning")]
    assert len(warnings) == 1, r.err
    assert warnings[0].startswith("warning: speaking with espeak") and all(
        f"{name}: " in warnings[0] for name in ("edge", "gtts", "piper")), warnings
