"""Relay slots (tiếp sóng): a live source carried on a zone, levelled, with a fallback, reconnection
and urgent airings cutting in. Real parts: an Icecast2 server and an HLS server on 127.0.0.1 fed by
ffmpeg, the daemon, and null sinks recorded."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from tests.icecast import HLS, icecast  # noqa: F401  (a fixture)
from tests.pulse import segments, tone_onsets

RATE = 44100


def source_lines(url: str, sid: str = "vov1", fallback: str = "d", timeout: str = "2s") -> list[str]:
    return [f"[sources.{sid}]", f'title = "Đài {sid}"', f'url = "{url}"', f'timeout = "{timeout}"',
            f'fallback = "{fallback}"']


def relay_slot(sid: str, zones: list[str], at: str, length: str) -> list[str]:
    return ["[[slots]]", f'source = "{sid}"', f"zones = {zones!r}".replace("'", '"'), f'at = "{at}"',
            f'duration = "{length}"' if length[-1] in "smh" else f'until = "{length}"']


BASE = ['timezone = "UTC"', "[bulletins.a]", 'script = "scripts/a.txt"', "[zones.za]"]


def test_relay_slots_are_checked_and_planned(project):
    project.write("scripts/a.txt", "Xin chào.")
    bad = BASE + source_lines("ftp://x/y") + ["[sources.a]", 'url = "http://x/y"'] + relay_slot(
        "vov2", ["za"], "06:00", "30m") + ["[[slots]]", 'source = "vov1"', 'zones = ["za"]', 'at = "06:00"'] \
        + ["[[slots]]", 'bulletin = "a"', 'zones = ["za"]', 'at = "07:00"', 'duration = "5m"']
    project.write("schedule.toml", "\n".join(bad) + "\n")
    r = project.run("check")
    assert r.code == 2
    for expected in ("url must be an http:// or https:// address", 'a source and a bulletin are both called "a"',
                     'source "vov2" is not defined (did you mean "vov1"?)', 'needs duration = "30m" or until',
                     "duration is for relay slots"):
        assert expected in r.err, (expected, r.err)
    assert "Traceback" not in r.err
    good = BASE + source_lines("http://127.0.0.1:9/vov1", fallback="a") + relay_slot("vov1", ["za"], "23:30", "00:15") \
        + relay_slot("vov1", ["za"], "06:00", "30m")
    project.write("schedule.toml", "\n".join(good) + "\n")
    r = project.run("next", "--from", "2026-12-01 00:00", "--days", "1")
    assert r.code == 0, r.err
    assert "relay: Đài vov1" in r.out and "30:00" in r.out and "45:00" in r.out   # 23:30 → 00:15 crosses midnight
    r = project.run("check")   # nothing listens on port 9: a warning, not an error
    assert "vov1: cannot be reached now" in r.out + r.err and r.code == 0, r.out + r.err


def _noise(seconds: float, level: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    speechy = rng.standard_normal(len(t)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))   # syllable-rate swell
    return (level * speechy).astype(np.float32)[:, None]


@pytest.mark.parametrize("level", [0.03, 0.4])
def test_the_leveller_brings_a_quiet_and_a_loud_station_to_the_target(level):
    from broadcaster.audio.relay import Leveller
    lev = Leveller(RATE, 1, -16.0, -1.0)
    x = _noise(20, level, 1)
    lev.prime([x[: RATE]])
    out = np.concatenate([lev(x[i:i + 4096]) for i in range(0, len(x), 4096)])
    meter = pyloudnorm.Meter(RATE)
    before = meter.integrated_loudness(x[:, 0])
    after = meter.integrated_loudness(out[5 * RATE:, 0])
    assert abs(before + 16) > 7                  # far from the target going in
    assert abs(after + 16) < 1.5, after          # near it coming out, whichever way it had to go
    assert np.abs(out).max() <= 10 ** (-1 / 20) + 1e-3


def test_an_hls_stream_is_relayed_and_a_web_page_is_refused_with_a_reason(project, tmp_path):
    from broadcaster.audio.files import StreamDecoder
    from broadcaster.audio.relay import RelayFeeder
    hls = HLS(tmp_path / "hls", 500.0)
    try:
        url = f"{hls.base}/live.m3u8"
        feeder = RelayFeeder(lambda: StreamDecoder(url, RATE, 1, timeout=3), None, rate=RATE, channels=1,
                             seconds=4.0, timeout=3, target_lufs=-16, ceiling_dbtp=-1)
        feeder.start()
        blocks = []
        while (b := feeder.blocks.get(timeout=10)) is not None:
            blocks.append(b)
        x = np.concatenate(blocks)[:, 0]
        assert len(x) == 4 * RATE
        relayed, fallback = feeder.tally(len(x))
        assert relayed == pytest.approx(4.0) and fallback == 0.0, feeder.events
        spectrum = np.abs(np.fft.rfft(x[RATE:3 * RATE]))
        assert abs(np.argmax(spectrum) * RATE / (2 * RATE) - 500) < 5
        page = StreamDecoder(f"{hls.base}/page.html", RATE, 1, timeout=3)
        deadline = time.monotonic() + 10
        while page.ended is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert page.ended == "what the address sent is not audio (a web page?)"
        project.write("scripts/a.txt", "Xin chào.")
        project.write("schedule.toml", "\n".join(
            BASE + source_lines(url, "hls", "a") + source_lines(f"{hls.base}/page.html", "page", "a")
            + source_lines(f"{hls.base}/gone.mp3", "gone", "a") + relay_slot("hls", ["za"], "06:00", "30m")) + "\n")
        r = project.run("check")
        said = r.out + r.err
        assert "hls:" not in said, said
        assert "page: the address answers with a web page" in said
        assert "gone: the server answered 404" in said
    finally:
        hls.stop()


def test_a_relay_airs_on_time_falls_back_reconnects_and_yields_to_urgent(station, icecast):
    """vov1 (a 1 kHz tone) relayed on za for 30 s; an urgent bulletin at +8 s cuts in and the relay goes
    on; the station's encoder drops at +16 s (fallback: bulletin d, 660 Hz) and comes back at +20 s.
    On zb a source whose address gives 404: its fallback (c, 1320 Hz) from the start."""
    icecast.feed("vov1", 1000.0)
    station.configure([("b", ["za"], 8, "urgent")], extra=lambda when: (
        source_lines(icecast.url("vov1")) + source_lines(icecast.url("nothing"), "bad", "c")
        + relay_slot("vov1", ["za"], when(0), "30s") + relay_slot("bad", ["zb"], when(0), "8s")), t0_in=10)
    station.build()
    station.record("zone_a", "zone_b")
    station.start()
    station.wait_until(16)
    icecast.cut("vov1")
    station.wait_until(20)
    icecast.feed("vov1", 1000.0, wait=False)
    station.wait_until(33)
    a = station.recorders["zone_a"].stop()
    b = station.recorders["zone_b"].stop()
    station.stop()
    rate = 48000
    relay = tone_onsets(a, 1000.0)
    r0 = relay[0]
    urgent = tone_onsets(a, 880.0)
    fallback = [t for t in tone_onsets(a, 660.0) if t > r0 + 12]
    c0 = tone_onsets(b, 1320.0)[0]
    # each sink has its own constant delay: onsets are compared within one recording
    assert abs(urgent[0] - (r0 + 8)) < 0.8, (urgent, r0)  # the relay began on its time, the urgent on its own
    heard_b = segments(b)
    assert 7.0 < heard_b[-1][1] - c0 < 8.6, (c0, heard_b)   # zb: the fallback from its start to its end
    assert any(r0 + 9 < t < r0 + 15 for t in relay), relay   # the relay went on after it
    assert fallback and r0 + 15.5 < fallback[0] < r0 + 22, (fallback, r0)   # heard within seconds of the drop
    assert any(fallback[0] < t < r0 + 29 for t in relay), (relay, fallback)   # reconnected
    sounding = [s for s in segments(a) if s[0] < r0 + 31]
    end = sounding[-1][1]
    assert r0 + 28.5 < end < r0 + 30.5, (sounding, r0)   # ended on the slot's time ...
    rms = [float(np.sqrt(np.mean(a[int(s * rate):int((s + 0.5) * rate)] ** 2))) for s in (end - 1.6, end - 0.6)]
    assert rms[1] < 0.7 * rms[0], rms                      # ... with a fade
    rows = station.log()
    za = sorted((r for r in rows if r["zone"] == "za"), key=lambda r: r["started"] or "")   # in the order they
    # aired (the log lists by the time due, and the rest of a relay cut by an urgent one is due when it was cut,
    # which under load can be a few ms before the urgent airing's own time)
    assert [(r["bulletin"], r["status"]) for r in za] == [("vov1", "interrupted"), ("b", "played"),
                                                           ("vov1", "played")], za
    assert "urgent" in za[0]["reason"] and za[0]["relayed_s"] == pytest.approx(8, abs=1.2)
    assert za[2]["relayed_s"] > 5 and za[2]["fallback_s"] > 1.5, za[2]
    assert "the stream ended" in za[2]["reason"] and "the source is back" in za[2]["reason"], za[2]
    zb = [r for r in rows if r["zone"] == "zb"]
    assert [(r["bulletin"], r["status"]) for r in zb] == [("bad", "failed")], zb
    assert "404" in zb[0]["reason"] and zb[0]["fallback_s"] == pytest.approx(8, abs=1.0), zb
    assert abs(za[0]["start_error_ms"]) < 100 and abs(zb[0]["start_error_ms"]) < 100, (za, zb)
    r = station.project.run("report", "-o", "report.json")
    assert r.code == 0, r.err
    cells = {(c["zone"], c["bulletin"]): c for c in json.loads(station.project.read("report.json"))["days"]}
    # the relay cut by the urgent bulletin went on after it: one relay scheduled, one aired
    assert (cells[("za", "vov1")]["scheduled"], cells[("za", "vov1")]["aired"]) == (1, 1), cells
    assert cells[("zb", "bad")]["failed"] == 1 and cells[("za", "b")]["played"] == 1, cells


def test_a_line_in_is_relayed(station):
    """An FM receiver on the line-in: here zone_b's monitor, with a 700 Hz tone played into zone_b."""
    home = Path(station.pulse.env["HOME"])
    asoundrc = (home / ".asoundrc").read_text()
    if "pcm.fm_in" not in asoundrc:
        (home / ".asoundrc").write_text(asoundrc + 'pcm.fm_in { type pulse; device "zone_b.monitor" }\n')
    t = np.arange(48000 * 30) / 48000
    pcm = (0.3 * np.sin(2 * np.pi * 700 * t) * 32767).astype("<i2").tobytes()
    radio = subprocess.Popen(["pacat", "--playback", "--device=zone_b", "--raw", "--format=s16le", "--channels=1",
                              "--rate=48000"], stdin=subprocess.PIPE, env={**os.environ, **station.pulse.env})

    def play() -> None:
        with contextlib.suppress(OSError):   # killed at the end of the test
            radio.stdin.write(pcm)
            radio.stdin.close()
    threading.Thread(target=play, daemon=True).start()
    try:
        station.configure([], extra=lambda when: [
            "[sources.fm]", 'title = "FM 96"', 'device = "fm_in"', 'timeout = "3s"']
            + relay_slot("fm", ["za"], when(0), "6s"), t0_in=8)
        station.build()
        station.record("zone_a")
        station.start()
        station.wait_until(8)
        x = station.recorders["zone_a"].stop()
        station.stop()
    finally:
        radio.kill()
        radio.wait()
    heard = segments(x)
    assert heard and 5.0 < heard[0][1] - heard[0][0] < 6.6, (heard, station.daemon_log())
    assert abs(heard[0][2] - 700) < 15, heard
    [row] = station.log()
    assert row["status"] == "played" and row["relayed_s"] == pytest.approx(6, abs=0.5), row


def test_a_silent_source_is_taken_off_the_air_for_its_fallback(tmp_path):
    """A stream that is up but carries silence (a dead studio) counts as down: the fallback plays."""
    import soundfile as sf
    from broadcaster.audio.files import StreamDecoder
    from broadcaster.audio.relay import RelayFeeder
    sf.write(str(tmp_path / "silent.wav"), np.zeros(RATE * 20, np.float32), RATE)
    sf.write(str(tmp_path / "music.wav"), (0.3 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)).astype(np.float32),
             RATE)
    feeder = RelayFeeder(lambda: StreamDecoder(str(tmp_path / "silent.wav"), RATE, 1, timeout=1),
                         lambda: StreamDecoder(str(tmp_path / "music.wav"), RATE, 1, loop=True), rate=RATE,
                         channels=1, seconds=3.0, timeout=1, target_lufs=-16, ceiling_dbtp=-1)
    feeder.start()
    blocks = []
    while (b := feeder.blocks.get(timeout=10)) is not None:
        blocks.append(b)
    x = np.concatenate(blocks)[:, 0]
    assert feeder.tally(len(x)) == (0.0, 3.0)
    assert any(e.endswith("the source is silent") for e in feeder.events), feeder.events
    assert float(np.sqrt(np.mean(x[RATE // 2: RATE * 2] ** 2))) > 0.1   # the fallback's tone, not silence


def test_a_fallback_bulletin_airs_only_as_any_airing_of_it_would(project):
    """Where approval is required, a relay's fallback is the bulletin's approved audio, never a rendered
    but unapproved version (the fallback is not a way round approval)."""
    from types import SimpleNamespace
    from broadcaster.config import load_config
    from broadcaster.daemon.renderer import Renderer
    project.write("scripts/a.txt", "Xin chào bà con.")
    text = "\n".join(BASE + ['[tts]', 'engine = "espeak"', '[audio]', 'format = "wav"']
                     + source_lines("http://127.0.0.1:9/vov1", fallback="a")
                     + relay_slot("vov1", ["za"], "06:00", "30m")) + "\n"
    project.write("schedule.toml", text)
    assert project.run("build").code == 0
    open_cfg = load_config(project.root / "schedule.toml")
    rendered = Renderer(SimpleNamespace(cfg=open_cfg)).fallback_for(open_cfg.sources["vov1"])
    assert rendered == open_cfg.bulletins["a"].output_path(open_cfg.paths) and rendered.is_file()
    project.write("schedule.toml", text + "[approval]\nrequired = true\n")
    cfg = load_config(project.root / "schedule.toml")
    renderer = Renderer(SimpleNamespace(cfg=cfg))
    try:
        assert renderer.fallback_for(cfg.sources["vov1"]) is None   # not approved: silence, not the audio
    finally:
        renderer.stop()


def test_a_port_number_in_ffmpegs_words_is_not_taken_for_an_http_status():
    """ffmpeg names the address in its message; a port like 40371 once made "not audio" read as "403"."""
    from broadcaster.audio.files import StreamDecoder
    d = object.__new__(StreamDecoder)
    d._played = False
    d._said = ["http://127.0.0.1:40371/page.html: Invalid data found when processing input"]
    assert d._reason(1) == "what the address sent is not audio (a web page?)"
    d._said = ["[http @ 0x5] HTTP error 403 Forbidden", "http://127.0.0.1:8000/x: Server returned 403 Forbidden"]
    assert d._reason(1) == "the server refused access (403 Forbidden)"
    d._said = ["http://127.0.0.1:40404/gone.mp3: Server returned 404 Not Found"]
    assert d._reason(1) == "the server answered 404 Not Found: check the address"
