"""Live voice on this PC (issue 30, its first part): `broadcaster live` speaks through the running daemon
on two zones (two null sinks). The "microphone" is a PulseAudio virtual source — the monitor of a null
sink that paplay plays a WAV into. Both sinks receive the voice (found by cross-correlating each
recording with the source's), what played on one zone is faded out and logged interrupted, each zone's
row says who spoke and how long; the link cut for 5 s by a TCP proxy the test controls is logged as a
gap, and the voice comes back on the air when the link does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.icecast import icecast  # noqa: F401  (a fixture)
from tests.voice import RATE, LinkProxy, microphone, speaker, voice

pytestmark = pytest.mark.audio


def lag(mic: np.ndarray, heard: np.ndarray, start: float, seconds: float = 3.5, most: float = 3.0,
        rate: int = RATE) -> tuple[float, float]:
    """How much later than in ``mic`` the stretch of voice from ``start`` s is in ``heard`` (within -2 s …
    ``most`` s: each recording's timeline has its sink's own delay), and the correlation of their 10-ms
    envelopes there (-1..1)."""
    def env(x):
        hop = rate // 100
        m = len(x) // hop
        return np.abs(x[:m * hop]).reshape(m, hop).mean(axis=1)
    a, b = env(mic), env(heard)
    i, n = int(start * 100), int(seconds * 100)
    seg = a[i:i + n]
    seg = (seg - seg.mean()) / (seg.std() or 1)
    best = (-2.0, 0)
    for k in range(-min(i, 200), int(most * 100)):
        w = b[i + k:i + k + n]
        if len(w) < n:
            break
        best = max(best, (float(np.dot(seg, (w - w.mean()) / (w.std() or 1)) / n), k))
    return best[1] / 100, best[0]


def test_live_voice_reaches_both_zones_fades_what_plays_and_logs_a_cut_link(station, pulse, tmp_path):
    microphone(pulse)
    station.project.write("scripts/b.txt", "Thông báo dài. " * 12)
    station.configure([("b", ["za"], 0, "normal")], t0_in=6,
                      extra=lambda when: ["[live]", 'chime = "jingles/chime.wav"'])
    t = np.arange(int(0.6 * 22050)) / 22050
    sf.write(str(station.root / "jingles" / "chime.wav"), 0.3 * np.sin(2 * np.pi * 1320 * t), 22050)
    station.build()
    station.record("zone_a", "zone_b", "mic")
    station.start()
    desk = json.loads((station.root / "state" / "live.json").read_text())
    proxy = LinkProxy(desk["port"])   # the speaker's link goes through it
    (station.root / "state" / "live.json").write_text(json.dumps({**desk, "port": proxy.port}))
    station.wait_until(3)         # b plays on za
    speech = voice(12.0)
    wav = tmp_path / "speech.wav"
    sf.write(str(wav), speech, RATE)
    env = {**os.environ, **pulse.env, "LANG": "C.UTF-8"}
    talker = speaker(station.root, pulse, "--zone", "za", "--zone", "zb", log=station.daemon_log)
    try:
        talk = subprocess.Popen(["paplay", "--device=mic", str(wav)], env=env)   # the speaker talks for 12 s
        time.sleep(4.0)
        proxy.open.clear()        # the link is cut for 5 s, mid-way
        time.sleep(5.0)
        proxy.open.set()
        talk.wait(20)
        time.sleep(1.5)
        out, err = talker.communicate("\n", timeout=20)   # Enter: the end
        assert talker.returncode == 0, err
        assert "Ended:" in out
    finally:
        if talker.poll() is None:
            talker.kill()
    deadline = time.time() + 10   # what the jitter buffer holds plays out, then each zone's voice ends
    while len([r for r in station.log() if (r["bulletin"] or "").startswith("live:") and r["ended"]]) < 2:
        assert time.time() < deadline, station.daemon_log()[-2000:]
        time.sleep(0.3)
    time.sleep(0.5)
    assert station.stop() == 0
    rec = {s: r.stop() for s, r in station.recorders.items()}
    rows = station.log()
    b = [r for r in rows if r["bulletin"] == "b"]
    assert [r["status"] for r in b] == ["interrupted"] and "live" in b[0]["reason"], b   # faded out for the voice
    from tests.pulse import tone_onsets
    chimes = tone_onsets(rec["zone_b"], 1320)   # the chime, then the voice
    voiced = np.flatnonzero(np.abs(rec["zone_b"]) > 0.05) / RATE
    assert len(chimes) == 1 and voiced[0] <= chimes[0] + 0.05 and any(v > chimes[0] + 0.6 for v in voiced), chimes
    spoken = {r["zone"]: r for r in rows if (r["bulletin"] or "").startswith("live:")}
    assert sorted(spoken) == ["za", "zb"], rows
    for z, r in spoken.items():
        assert r["status"] == "played", r
        assert "s on the air" in r["reason"], r   # who, from where, how long
        longest = float(r["reason"].split("the longest ")[1].split(" s")[0])
        assert 4.0 <= longest <= 5.5, r["reason"]   # the 5-s cut (less the half second before it counts)
    # both sinks heard the voice (each null sink has its own constant delay, so lags across sinks are not
    # compared here: bench/live.py measures the latency within one sink)
    mic = rec["mic"]
    heard = {}
    on = int(np.flatnonzero(np.abs(mic) > 0.05)[0]) / RATE   # the first 3.5 s of the voice, before the cut
    for sink in ("zone_a", "zone_b"):
        # 1.5-s stretches (a zone behind its target catches up in the pauses, so longer ones do not align):
        # the best of the first three
        at, score = max((lag(mic, rec[sink], on + k, seconds=1.5) for k in (0.0, 1.0, 2.0)), key=lambda r: r[1])
        heard[sink] = (at, round(score, 2))
    print("live: lag from the microphone to each sink (s, correlation):", heard)
    assert all(score > 0.45 for _s, score in heard.values()), heard   # (unrelated sound: about 0.1)


def test_speak_from_the_console_in_chromium_over_https(station, tmp_path):
    """"Nói trực tiếp" in headless Chromium over HTTPS (a test certificate), its microphone a WAV file:
    the voice reaches the chosen zone's null sink, the row says who spoke from the console, the voice is
    kept at the origin; a viewer may not speak."""
    from tests.browser import CHROMIUM, Tab
    from tests.console import ConsoleServer, add_user
    from tests.test_web_console import log_in
    from tests.test_web_hardening import make_certificate
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make test installs it)")
    home = Path(station.pulse.env["HOME"])   # zone A's monitor input: what its loudspeakers play (proof of air)
    if "zone_a_in" not in (home / ".asoundrc").read_text():
        with open(home / ".asoundrc", "a") as f:
            f.write('pcm.zone_a_in { type pulse; device "zone_a.monitor" }\n')
    station.configure([("a", ["za"], 3600, "normal")], t0_in=0, zone_keys={"za": ['monitor = "zone_a_in"']})
    station.build()
    add_user(station.root, "dung", "technician")
    add_user(station.root, "em", "viewer")
    wav = tmp_path / "mic.wav"   # real speech (a browser's noise suppression would take noise away)
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(wav),   # longer than the talk: the fake microphone loops it
                    "Kính thưa bà con, đây là thông báo khẩn của ủy ban nhân dân xã về mưa lũ. Đề nghị bà con chằng "
                    "chống nhà cửa, không ra sông, không đánh bắt cá. Các hộ ven sông chuẩn bị di dời người già và "
                    "trẻ em tới nhà văn hóa thôn trước mười bảy giờ chiều nay. Xin cảm ơn bà con."], check=True)
    cert, key = make_certificate(tmp_path)
    station.record("zone_a", "zone_b")
    station.start()
    console = ConsoleServer(station.root, tmp_path / "web.log", env=station.pulse.env, scheme="https",
                            args=("--cert", str(cert), "--key", str(key)), verify=str(cert))
    try:
        with Tab(width=390, height=844, args=("--ignore-certificate-errors", "--use-fake-ui-for-media-stream",
                                              "--use-fake-device-for-media-stream",
                                              f"--use-file-for-fake-audio-capture={wav}")) as tab:
            log_in(tab, console.url, "dung")
            tab.go(f"{console.url}/speak")
            tab.js("document.querySelector('input[name=zone][value=za]').click()")
            tab.click("#talk", navigates=False)
            tab.wait_for("!document.getElementById('on-air').hidden", 20)
            assert tab.js("document.getElementById('on-air-zones').textContent") == "za"
            time.sleep(6)
            # the level meter moves: read until it shows sound (one reading can fall in a pause of the speech)
            tab.wait_for("parseInt(document.getElementById('level').style.width) > 0", 10)
            tab.click("#stop-talk", navigates=False)
            tab.wait_for("document.getElementById('on-air').hidden", 20)
            # a browser without WebCodecs' encoder sends the 16-bit samples themselves
            tab.js("delete window.AudioEncoder")
            tab.click("#talk", navigates=False)
            tab.wait_for("!document.getElementById('on-air').hidden", 20)
            time.sleep(3)
            tab.click("#stop-talk", navigates=False)
            tab.wait_for("document.getElementById('on-air').hidden", 20)
            assert not tab.errors, tab.errors
        deadline = time.time() + 15
        while len([r for r in station.log() if (r["bulletin"] or "").startswith("live:") and r["heard"]]) < 2:
            assert time.time() < deadline, station.daemon_log()[-2000:]
            time.sleep(0.3)
        viewer = __import__("tests.test_web_hardening", fromlist=["logged_in"]).logged_in(console, "em")
        assert viewer.get("/speak").status_code == 403
        assert viewer.post("/speak/start", data={"csrf": viewer.csrf("/"), "zone": "za"}).status_code == 403
    finally:
        console.stop()
    assert station.stop() == 0
    rec = {s: r.stop() for s, r in station.recorders.items()}
    row, fallback = sorted((r for r in station.log() if (r["bulletin"] or "").startswith("live:")),
                           key=lambda r: r["started"])
    assert fallback["status"] == "played" and 1.5 < float(fallback["reason"].split(", ")[1].split(" s")[0]) < 5, \
        fallback
    assert row["zone"] == "za" and row["status"] == "played" and "live: dung from the console" in row["reason"], row
    assert row["heard"] in ("confirmed", "partial", "unheard") and row["heard_score"] >= 0.7, row   # proof of air:
    # its monitor heard what it sent (short speech of even rhythm can leave the matcher unsure of the lag)
    seconds = float(row["reason"].split(", ")[1].split(" s")[0])
    assert 4.0 < seconds < 9.0, row["reason"]
    # the browser sent Opus (its own WebCodecs encoder): a few kB a second, not the 32 kB of 16-bit samples
    from tests.test_web_security import audit
    ended = [d for _t, user, _a, action, d in audit(station) if action == "speak end" and user == "dung"]
    rate = {d.split("(")[1].split(",")[0]: float(d.split(", ")[1].split(" kB")[0]) * 8 / float(d.split(" s ")[0])
            for d in ended}
    print(f"live from the browser: {ended} (kb/s of voice up: {rate})")
    assert set(rate) == {"opus", "pcm"} and rate["opus"] < 48 and 240 < rate["pcm"] < 300, ended
    kept = sorted((station.root / "state" / "live").glob("*-dung.wav"))
    assert len(kept) == 2 and sf.info(str(kept[0])).duration > 4.0
    # what the browser captured (the WAV, looped) reached zone A, and nothing reached zone B
    heard = np.flatnonzero(np.abs(rec["zone_a"]) > 0.05)
    assert len(heard) and (heard[-1] - heard[0]) / RATE > 4.0, len(heard)   # seconds of voice on zone A
    assert not np.any(np.abs(rec["zone_b"]) > 0.05)
    kept_voice, _rate = sf.read(str(kept[0]), dtype="float32")
    assert np.std(kept_voice) > 0.05   # the voice, not silence, was kept


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _drain(feeder, seconds: float, clock: _Clock, step: float = 0.02) -> list:
    """Take the feeder's blocks as a sound card would, ``step`` s at a time on the test's clock."""
    got, end = [], clock.t + seconds
    while clock.t < end:
        clock.t += step
        try:
            got.append(feeder.blocks.get(timeout=0.05))
        except Exception:
            got.append("underrun")
        if got[-1] is None:
            break
    return got


@pytest.mark.parametrize("order", ["in order", "two swapped"])
def test_the_jitter_buffer_plays_frames_in_their_order(order):
    """Frames that arrive unevenly (two swapped on the way) play in their numbered order, none lost."""
    from broadcaster.audio.live import FRAME, LiveStream
    clock = _Clock()
    stream = LiveStream("an", "test", clock=clock)
    feeder = stream.feeder(16000, 1)   # the wire's own rate: one block is one frame
    feeder.start()
    seqs = list(range(50))
    if order == "two swapped":
        seqs[10], seqs[11] = seqs[11], seqs[10]
    blocks = []
    for s in seqs:   # one frame every 20 ms, as a speaker sends them
        stream.put(s, (np.full(FRAME, s + 1) * 100).astype("<i2").tobytes())
        blocks += _drain(feeder, 0.02, clock)
    stream.end()
    blocks = [b for b in blocks + _drain(feeder, 5.0, clock) if b is not None and not isinstance(b, str)]
    levels = [int(round(float(np.median(b)) * 32768 / 100)) for b in blocks]
    voiced = [v for v in levels if v > 0]
    assert voiced == sorted(voiced) and len(set(voiced)) >= 45, levels   # in order; (the fades excepted)
    assert feeder.tally.late == 0 and not feeder.tally.gaps


def test_the_first_words_are_kept_while_the_sound_card_opens_and_caught_up_in_the_pauses():
    """1.5 s of voice arrive before the zone takes any (a fade, a sound card opening): it starts from the
    first frame, not the newest, and is back near the target after a few pauses, dropping only quiet frames."""
    from broadcaster.audio.live import FRAME, LiveStream
    clock = _Clock()
    stream = LiveStream("an", "test", clock=clock)
    feeder = stream.feeder(16000, 1)
    feeder.start()

    def frame(s):   # words of 0.4 s, pauses of 0.2 s; each word's frames carry their number
        return np.full(FRAME, 1000 + 10 * (s + 1) if s % 30 < 20 else 0).astype("<i2").tobytes()
    for s in range(75):          # 1.5 s before anything is taken
        clock.t += 0.02
        stream.put(s, frame(s))
    blocks = []
    for s in range(75, 500):     # then one frame every 20 ms, taken as a sound card does
        stream.put(s, frame(s))
        blocks += _drain(feeder, 0.02, clock)
    levels = [int(round((float(np.median(b)) * 32768 - 1000) / 10)) for b in blocks
              if not isinstance(b, str) and b is not None]
    voiced = [v for v in levels if v > 0]
    assert voiced[0] <= 2, voiced[:10]   # from the first word (its first frame faded in)
    spoken = {s + 1 for s in range(1, 75) if s % 30 < 20}   # (the first, faded in, reads lower)
    assert spoken <= set(voiced), sorted(spoken - set(voiced))[:10]   # none of the first 1.5 s of words lost
    assert feeder.buffered() <= stream.target() + 0.1, (feeder.buffered(), stream.target())   # caught up
    stream.end()


def test_a_stalled_link_is_one_gap_and_the_voice_comes_back_near_the_target():
    """5 s without frames, then the backlog at once (TCP after a cut): one gap, the oldest of the backlog
    dropped (counted), and the voice back with about the target buffered, not 5 s behind."""
    from broadcaster.audio.live import FRAME, FRAME_S, LiveStream
    clock = _Clock()
    stream = LiveStream("an", "test", clock=clock)
    feeder = stream.feeder(16000, 1)
    feeder.start()
    pcm = (np.full(FRAME, 3000)).astype("<i2").tobytes()
    for s in range(50):             # 1 s of voice, in time
        stream.put(s, pcm)
        _drain(feeder, 0.02, clock)
    _drain(feeder, 5.0, clock, step=0.1)   # the link stalls for 5 s …
    for s in range(50, 350):        # … then its 6 s of backlog arrive at once
        stream.put(s, pcm)
    for s in range(350, 375):       # and the voice goes on
        stream.put(s, pcm)
        _drain(feeder, 0.02, clock)
    assert len(feeder.tally.gaps) == 1 and 4.5 <= feeder.tally.gaps[0] <= 6.0, feeder.tally
    assert feeder.buffered() <= stream.target() + 0.1, (feeder.buffered(), stream.target())
    assert feeder.tally.late >= 300 - (stream.target() + 0.1) / FRAME_S   # the rest of the backlog: dropped
    stream.end()
    assert _drain(feeder, 5.0, clock)[-1] is None   # and it ends when the speaker does


def test_a_relay_cut_by_a_live_voice_goes_on_after_it(station, pulse, icecast):
    """VOV relayed on zone A; a live voice (urgent) cuts in, the relay is logged interrupted and goes on
    once the voice has ended."""
    from tests.pulse import tone_onsets
    from tests.test_relay import relay_slot, source_lines
    microphone(pulse)
    icecast.feed("vov1", 1000.0)
    station.configure([], extra=lambda when: source_lines(icecast.url("vov1")) + relay_slot("vov1", ["za"], when(0),
                                                                                           "25s"), t0_in=8)
    station.build()
    station.record("zone_a")
    station.start()
    station.wait_until(5)
    talker = speaker(station.root, pulse, "--zone", "za", "--no-chime", log=station.daemon_log)
    env = {**os.environ, **pulse.env}
    talk = subprocess.Popen(["pacat", "--playback", "--device=mic", "--raw", "--format=s16le", "--channels=1",
                             f"--rate={RATE}"], stdin=subprocess.PIPE, env=env)
    talk.communicate((voice(4.0, seed=8) * 32767).astype("<i2").tobytes(), timeout=20)
    time.sleep(1.0)
    talker.communicate("\n", timeout=20)
    assert talker.returncode == 0
    station.wait_until(27)
    a = station.recorders.pop("zone_a").stop()
    assert station.stop() == 0
    za = [r for r in station.log() if r["zone"] == "za"]
    assert [(r["bulletin"] or "").split(":")[0] for r in za] == ["vov1", "live", "vov1"], za
    assert za[0]["status"] == "interrupted" and "live" in za[0]["reason"] and za[2]["status"] == "played", za
    relay = tone_onsets(a, 1000.0)
    assert relay and any(t > relay[0] + 9 for t in relay), relay   # the relay sounded again after the voice


def _talk(seconds: float, delay, *, seed: int = 1, hold: tuple[float, float] | None = None, join: bool = False):
    """A speaker's frames through a link, on the test's clock, into one zone's feeder taken as a sound card
    takes it (a 20-ms block every 20 ms). The hub sends three frames a message (as ``fleet.live`` does),
    each ``delay(sent, rng)`` s late on the way and in order (as over TCP); ``hold`` = (from, to): nothing
    comes between, then what was held within 0.3 s (``join``: to a station that gave the voice up
    meanwhile, and joins it again now). Returns the feeder, the stream and [(time, seq or None)]
    of what played: a word's frame carries its number, a pause is 0, anything else (a concealed frame,
    a fade) is None."""
    import queue
    import random
    from broadcaster.audio.live import FRAME, FRAME_S, LiveStream
    rng, clock = random.Random(seed), _Clock()
    stream = LiveStream("an", "test", clock=clock)
    feeder = stream.feeder(16000, 1)
    feeder.start()
    n, arrivals, last = int(seconds / FRAME_S), [], 0.0
    for first in range(0, n, 3):
        sent = (first + 3) * FRAME_S + rng.uniform(0, 0.004)
        at = max(last, sent + delay(sent, rng))
        if hold and hold[0] <= at < hold[1]:   # the backlog, in the 0.3 s after (a link's burst)
            at = hold[1] + 0.3 * (at - hold[0]) / (hold[1] - hold[0])
        last = at
        if not (join and at < hold[0]):   # joining: what came before the hold went to a session given up
            arrivals.append((at, first))
    played, i = [], 0
    clock.t = arrivals[0][0] - FRAME_S
    while clock.t < arrivals[-1][0] + 1.0:
        clock.t += FRAME_S
        while i < len(arrivals) and arrivals[i][0] <= clock.t:
            for s in range(arrivals[i][1], min(arrivals[i][1] + 3, n)):
                stream.put(s, np.full(FRAME, 20000 + 4 * s if s % 30 < 20 else 0, "<i2").tobytes())
            i += 1
            if i == len(arrivals):
                stream.end()   # (the speaker's end comes right after the last frame)
        try:
            b = feeder.blocks.get(timeout=1.0)
        except queue.Empty:   # the sound card found nothing: it plays silence
            played.append((clock.t, None))
            continue
        if b is None:
            break
        v = int(round(float(np.median(b)) * 32768))
        played.append((clock.t, (v - 20000) // 4 if v >= 19999 else 0 if v == 0 else None))
        time.sleep(0.0002)
    return feeder, stream, played


@pytest.mark.parametrize("link", ["clean", "jitter from the start", "jitter from the 4th second"])
def test_the_buffer_adapts_while_the_voice_flows(link):
    """Issue 37, 1 and 2. On a clean link nearly nothing is concealed; with 100 ± 50 ms of jitter (from the
    start or from mid-speech) the voice never stops: the buffer grows at once when frames come late (they
    are played, none dropped), the link is never taken for lost, no hole inside a word is over 200 ms,
    and the voice is at most a second behind the speaker."""
    from broadcaster.audio.live import FRAME_S
    jitter = {"clean": lambda t, r: 0.0, "jitter from the start": lambda t, r: r.uniform(0.05, 0.15),
              "jitter from the 4th second": lambda t, r: r.uniform(0.05, 0.15) if t > 4 else 0.0}[link]
    feeder, stream, played = _talk(20.0, jitter)
    t = feeder.tally
    words = [s for _at, s in played if s]
    spoken = [s for s in range(1, int(20.0 / FRAME_S)) if s % 30 < 20]
    assert not t.gaps and not t.gave_up and t.late == 0, t       # never taken for lost, nothing dropped
    assert set(spoken) - set(words) <= {0}, sorted(set(spoken) - set(words))[:10]   # every word's frame played
    assert words == sorted(words), "out of order"
    assert t.concealed <= 0.01 * len(spoken) if link == "clean" else t.longest * FRAME_S <= 0.2, t
    lateness = [at - (s + 1) * FRAME_S for at, s in played if s]
    assert np.percentile(lateness, 95) <= 1.0, np.percentile(lateness, 95)
    print(link, t, f"lateness p50 {np.percentile(lateness, 50):.3f} p95 {np.percentile(lateness, 95):.3f} s")


def test_a_held_links_backlog_resumes_at_what_is_said_now():
    """Issue 37, 5: a link held 3 s gives its backlog back in a burst; the zone resumes near the speaker (what
    is said now, within its target), not on the oldest frames of the backlog 3 s behind."""
    from broadcaster.audio.live import FRAME_S
    feeder, stream, played = _talk(10.0, lambda t, r: 0.0, hold=(4.0, 7.0))
    assert len(feeder.tally.gaps) == 1, feeder.tally
    after = [(at, s) for at, s in played if at > 7.0 and s]
    behind = after[0][0] - (after[0][1] + 1) * FRAME_S
    assert behind <= stream.target() + 0.2, (behind, after[:3])


def test_a_station_that_joins_a_voice_again_plays_what_is_said_now():
    """Issue 37, 3 and 5: a station that gave a voice up while its link was held (36 s) joins it again when
    the link comes back, and the link's backlog comes first: it plays from what is said now, not from
    the oldest words it was given (a voice joined mid-way has no first words to keep)."""
    from broadcaster.audio.live import FRAME_S
    feeder, stream, played = _talk(42.0, lambda t, r: 0.0, hold=(4.0, 40.0), join=True)
    first = next((at, s) for at, s in played if s)
    assert first[0] - (first[1] + 1) * FRAME_S <= stream.target() + 0.2, first


def test_opus_conceals_a_packet_that_never_came_with_the_voice():
    """Issue 37, 2: a frame lost on the way is made up by Opus's own concealment (the voice continued,
    fading), not silence; the next packet is decoded as it should and nothing else is lost."""
    from broadcaster.audio.live import FRAME, FRAME_S, LiveStream
    from broadcaster.audio.opus import Encoder
    t = np.arange(FRAME * 60) / 16000
    pcm = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    encoder = Encoder()
    packets = [p for i in range(60) for p in encoder.encode(pcm[i * FRAME:(i + 1) * FRAME].tobytes())]
    clock = _Clock()
    stream = LiveStream("an", "test", clock=clock)
    feeder = stream.feeder(16000, 1)
    feeder.start()
    got = []
    for s, p in enumerate(packets):
        if s != 30:   # lost on the way
            stream.put(s, packet=p)
        got += [b for b in _drain(feeder, FRAME_S, clock) if not isinstance(b, str)]
    stream.end()
    got += [b for b in _drain(feeder, 1.0, clock) if b is not None and not isinstance(b, str)]
    assert feeder.tally.concealed == 1 and feeder.tally.late == 0, feeder.tally
    rms = [float(np.sqrt(np.mean(b * b))) for b in got if b is not None]
    voiced = rms[rms.index(next(r for r in rms if r > 0.1)):][:50]
    assert min(voiced) > 0.05, [round(r, 3) for r in voiced]   # no frame of silence inside the voice
