"""Live voice over the network (issue 30): a hub's speaker reaches two stations below it, each a real
daemon on its own null sink, over a real nats-server, as Opus. Station s2's link to the server goes
through a TCP proxy that holds everything 100 ± 50 ms from mid-speech and that the test cuts for 5 s: s2 logs the gap and the voice comes back on its
air while the speaker still talks. What played on s1 is faded out and logged interrupted."""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.fleet import cli, make_fleet  # noqa: F401  (a fixture)
from tests.pulse import Recorder
from tests.test_live import lag
from tests.voice import RATE, LinkProxy, microphone, speaker, voice

pytestmark = pytest.mark.audio


def live_rows(root):
    import json
    r = cli(root, "log", "--json")
    assert r.code == 0, r.err
    return [x for x in json.loads(r.out) if (x["bulletin"] or "").startswith("live:")], json.loads(r.out)


def test_a_hub_speaks_to_two_stations_one_through_a_link_cut_for_5_s(make_fleet, pulse, tmp_path):
    microphone(pulse)
    fleet = make_fleet({"s1": "zone_a", "s2": "zone_b"})
    (fleet.district / "scripts" / "a.txt").write_text("Thông báo dài. " * 14, encoding="utf-8")
    fleet.district_config([("b", ["s1", "s2"], 6 * 3600, "normal")], time.time())   # the stations' zones
    t = np.arange(int(0.6 * 22050)) / 22050   # a chime before the voice, at the hub: it goes down ahead of it
    sf.write(str(fleet.district / "jingles" / "chime.wav"), 0.3 * np.sin(2 * np.pi * 1320 * t), 22050)
    with open(fleet.district / "schedule.toml", "a", encoding="utf-8") as f:
        f.write('[live]\nchime = "jingles/chime.wav"\n')
    fleet.init()
    server = fleet.start_server()
    assert cli(fleet.district, "build", "a").code == 0
    assert cli(fleet.district, "publish").code == 0
    proxy = LinkProxy(fleet.port)   # s2 reaches the server through it
    home = Path(pulse.env["HOME"])   # s1's monitor input: what its loudspeakers play (proof of air)
    if "zone_a_in" not in (home / ".asoundrc").read_text():
        with open(home / ".asoundrc", "a") as f:
            f.write('pcm.zone_a_in { type pulse; device "zone_a.monitor" }\n')
    fleet.station_config("s1", '[fleet.monitors]\ns1 = "zone_a_in"\n')
    fleet.station_config("s2")
    conf = fleet.stations["s2"] / "schedule.toml"
    conf.write_text(conf.read_text().replace(fleet.server_url, f"nats://127.0.0.1:{proxy.port}"))
    env = {**pulse.env}
    for s in ("s1", "s2"):
        fleet.start_daemon(s, env)
    for s in ("s1", "s2"):
        fleet.wait_for_log(s, "the hub's programme version", 60)
    fleet.stations["district"] = fleet.district
    fleet.start_daemon("district", env)
    fleet.wait_for_log("district", "daemon started")
    rec = {s: Recorder(pulse, s, tmp_path / f"{s}.raw") for s in ("zone_a", "zone_b", "mic")}
    try:
        r = cli(fleet.district, "play", "a", "--zone", "s1")   # a long bulletin on s1, which the voice cuts (a
        assert "Sent to station s1" in r.out, r.out + r.err     # station's zone: sent to it, as with --station)
        assert r.code == 0, r.err
        fleet.wait_for_log("s1", "playing", 30)
        time.sleep(2.0)
        speech = voice(12.0)
        wav = tmp_path / "speech.wav"
        sf.write(str(wav), speech, RATE)
        talker = speaker(fleet.district, pulse, "--station", "s1", "--station", "s2",
                         log=lambda: fleet.daemon_log("district"))
        try:
            talk = subprocess.Popen(["paplay", "--device=mic", str(wav)], env={**os.environ, **pulse.env})
            time.sleep(2.0)
            proxy.delay, proxy.spread = 0.1, 0.05   # from mid-speech, s2's link holds everything 100 ± 50 ms
            time.sleep(2.0)
            proxy.open.clear()   # s2's link is cut for 5 s, mid-way
            time.sleep(5.0)
            proxy.open.set()
            talk.wait(20)
            time.sleep(1.5)
            out, err = talker.communicate("\n", timeout=20)
            assert talker.returncode == 0 and "Ended:" in out, err
            assert "on the air: 2/2" in err, err[-500:]   # the speaker saw both stations take it (heartbeats)
        finally:
            if talker.poll() is None:
                talker.kill()
        deadline = time.time() + 20
        while True:
            done = {s: [x for x in live_rows(fleet.stations[s])[0] if x["ended"]] for s in ("s1", "s2")}
            if all(done.values()) and done["s1"][0]["heard"]:   # s1's monitor has judged its airing too
                break
            assert time.time() < deadline, (done, fleet.daemon_log("s2")[-3000:])
            time.sleep(0.5)
        console_speaks_to_a_station(fleet, tmp_path)
    finally:
        heard = {s: x.stop() for s, x in rec.items()}
        server.stop()
    for s in ("s1", "s2"):
        [row] = done[s]
        # who, from where, and the hub whose signature it carried
        assert row["status"] == "played" and f"live: {getpass.getuser()} from {socket.gethostname()} (hub)" in \
            row["reason"], row
    # proof of air at a station below: its monitor heard what it put out of the voice it received
    print("live over the network, proof of air at s1:", {k: done["s1"][0][k] for k in ("heard", "heard_score",
                                                                                     "heard_delay_ms", "heard_note")})
    assert done["s1"][0]["heard"] in ("confirmed", "partial") and done["s1"][0]["heard_score"] >= 0.7, done["s1"]
    assert done["s2"][0]["heard"] is None, done["s2"]    # (s2 has no monitor)
    gaps = done["s2"][0]["reason"]
    longest = float(gaps.split("the longest ")[1].split(" s")[0])
    assert 4.0 <= longest <= 6.0 and "; 1 gap(s)" in gaps, gaps   # the 5-s cut, and no other (the jitter)
    for s in ("s1", "s2"):   # (issue 37) the voice whole: on s1's clean link hardly a frame concealed; on
        # s2's, jittered from mid-speech, no hole in the voice over 200 ms
        reason = done[s][0]["reason"]
        aired = float(reason.split(", ")[1].split(" s")[0])
        concealed = int(reason.split(" frame(s) concealed")[0].rsplit("; ", 1)[1]) if "concealed" in reason else 0
        in_a_row = int(reason.split("at most ")[1].split(" ms")[0]) if concealed else 0
        print(f"live over the network, {s}: {concealed} frame(s) concealed of {aired / 0.02:.0f}, "
              f"at most {in_a_row} ms in a row")
        assert (concealed <= 0.01 * aired / 0.02) if s == "s1" else in_a_row <= 200, reason
    assert "gap" not in done["s1"][0]["reason"], done["s1"][0]["reason"]   # the clean link: none
    from tests.pulse import tone_onsets
    for sink in ("zone_a", "zone_b"):   # the chime once on each station, then the voice
        assert len(tone_onsets(heard[sink], 1320)) == 1, (sink, tone_onsets(heard[sink], 1320))
    _live, rows = live_rows(fleet.stations["s1"])
    a = [x for x in rows if x["bulletin"] == "a"]
    assert [x["status"] for x in a] == ["interrupted"] and "live" in a[0]["reason"], a
    mic = heard["mic"]
    on = int(np.flatnonzero(np.abs(mic) > 0.05)[0]) / RATE
    found = {}
    for sink in ("zone_a", "zone_b"):
        at, score = max((lag(mic, heard[sink], on + k, seconds=1.5) for k in (0.0, 1.0, 2.0)), key=lambda r: r[1])
        found[sink] = (at, round(score, 2))
        # after the cut: the voice is back on s2's air while the speaker still talks
        late = max((lag(mic, heard[sink], on + k, seconds=1.5, most=4.0) for k in (10.0, 10.5)), key=lambda r: r[1])
        found[sink + " after the cut"] = (late[0], round(late[1], 2))
    print("live over the network: lag from the microphone to each sink (s, correlation):", found)
    assert all(score > 0.45 for _at, score in found.values()), found
    # within one sink's timeline: back after the cut no further behind than before it (the backlog that
    # came at once when the link returned is not taken for jitter)
    assert found["zone_b after the cut"][0] - found["zone_b"][0] < 0.3, found


def console_speaks_to_a_station(fleet, tmp_path):
    """The hub's console offers its stations' zones on "Nói trực tiếp"; a voice sent from it in POSTs (as
    the page sends the browser's) is on the air at the station, which the page hears of from its heartbeat."""
    import struct
    import soxr
    from tests.console import ConsoleServer, add_user
    from tests.test_web_hardening import logged_in
    add_user(fleet.district, "dung", "technician")
    console = ConsoleServer(fleet.district, tmp_path / "web.log")
    try:
        c = logged_in(console, "dung")
        page = c.get("/speak").text
        assert 'name="zone" value="s1"' in page and 'name="station" value="s2"' in page, page
        csrf = c.csrf("/speak")
        r = c.post("/speak/start", data={"csrf": csrf, "station": "s1", "priority": "urgent"})
        assert r.status_code == 200 and r.json()["zones"] == ["s1"], r.text
        sid = r.json()["sid"]
        pcm = (soxr.resample(voice(8.0, seed=5), RATE, 16000) * 32767).astype("<i2").tobytes()
        frames = [pcm[i:i + 640] for i in range(0, len(pcm) - 640, 640)]
        # what a browser without WebCodecs sends (16-bit samples) for the first half, then Opus packets as
        # one with it sends; bad packets are refused whole (400) and the voice goes on
        from broadcaster.audio.opus import Encoder
        half, encoder = len(frames) // 2 // 10 * 10, Encoder()
        packets = [struct.pack(">IH", half + i, len(p)) + p
                   for i, p in enumerate(p for f in frames[half:] for p in encoder.encode(f))]
        for bad in (b"\0\0\0\1\0", struct.pack(">IH", 1, 1300) + bytes(1300), struct.pack(">IH", 1, 9) + bytes(8),
                    struct.pack(">IH", 1, 5) + b"\xff" * 5):
            r = c.post(f"/speak/{sid}/opus", content=bad, headers={"X-CSRF-Token": csrf})
            assert r.status_code == 400, (bad, r.status_code, r.text)
        began, on_air = time.monotonic(), []
        for k in range(0, len(frames), 10):   # 200 ms of voice every 200 ms
            if k < half:
                body = b"".join(struct.pack(">I", k + i) + f for i, f in enumerate(frames[k:k + 10]))
            else:
                body = b"".join(packets[k - half:k - half + 10])
            r = c.post(f"/speak/{sid}/{'audio' if k < half else 'opus'}", content=body,
                       headers={"X-CSRF-Token": csrf})
            assert r.status_code == 200, r.text
            if k % 100 == 0:
                on_air = c.get(f"/speak/{sid}/status").json()["on_air"] or on_air
            time.sleep(max(0.0, began + (k + 10) * 0.02 - time.monotonic()))
        assert on_air == ["s1"], on_air   # the station's heartbeat said so while the voice played
        assert c.post(f"/speak/{sid}/end", headers={"X-CSRF-Token": csrf}).status_code == 200
        deadline = time.time() + 15
        while not (rows := [x for x in live_rows(fleet.stations["s1"])[0] if "dung" in x["bulletin"] and x["ended"]]):
            assert time.time() < deadline, fleet.daemon_log("s1")[-2000:]
            time.sleep(0.5)
        [row] = rows
        assert row["status"] == "played" and "live: dung from the console" in row["reason"], row
        assert 6.0 < float(row["reason"].split(", ")[1].split(" s")[0]) < 9.0, row["reason"]   # of the 8 s sent
    finally:
        console.stop()


def test_a_province_speaks_to_a_communes_cluster_with_the_communes_pc_off(pulse, tmp_path):
    """Two levels down: the province's voice reaches a commune's cluster straight through the commune's
    account (exported to the province like its commands), with the commune's PC switched off."""
    from tests.tiers import Tree, one_of_each, slot
    microphone(pulse)
    tree = Tree(tmp_path)
    try:
        province, commune, cluster = one_of_each(tree, slot("b", ["cum_1"], time.time() + 6 * 3600), pulse.env)
        deadline = time.time() + 40   # the commune's heartbeat names its cluster and the zone it plays …
        while not any(r["path"] == "xa_1/cum_1" and r["zones"] == ["cum_1"] for r in province.json("fleet", "status", "--json")):
            assert time.time() < deadline, commune.text()[-2000:]
            time.sleep(1)
        province.wait_for("stations known below xa_1: cum_1 (cum_1)", 30)   # … and the province's daemon has read it

        def speak(seconds: float, count: int) -> list[dict]:
            """The province speaks for ``seconds``; the cluster's live rows once ``count`` have ended."""
            wav = tmp_path / "speech.wav"
            sf.write(str(wav), voice(seconds, seed=7), RATE)
            talker = speaker(province.root, pulse, "--zone", "cum_1", log=province.text)
            try:
                subprocess.run(["paplay", "--device=mic", str(wav)], env={**os.environ, **pulse.env}, timeout=20)
                time.sleep(1.0)
                out, err = talker.communicate("\n", timeout=20)
                assert talker.returncode == 0, err
            finally:
                if talker.poll() is None:
                    talker.kill()
            deadline = time.time() + 15
            while len(rows := [x for x in live_rows(cluster.root)[0] if x["ended"]]) < count:
                assert time.time() < deadline, cluster.text()[-2000:]
                time.sleep(0.5)
            return rows
        # the commune's PC on: the cluster hears the province once (straight; the commune, seeing it
        # reached, does not pass it on too)
        [first] = speak(3.0, 1)
        assert first["status"] == "played" and "(tinh)" in first["reason"], first
        assert "live: the voice from tinh passed on" not in commune.text(), commune.text()[-2000:]
        commune.stop()       # the commune's PC is switched off
        rec = Recorder(pulse, "zone_a", tmp_path / "zone_a.raw")
        mic = Recorder(pulse, "mic", tmp_path / "mic.raw")
        rows = speak(6.0, 2)
        heard, spoken = rec.stop(), mic.stop()
    finally:
        tree.close()
    row = rows[-1]
    assert row["status"] == "played" and "(tinh)" in row["reason"], row   # signed by the province
    on = int(np.flatnonzero(np.abs(spoken) > 0.05)[0]) / RATE
    at, score = max((lag(spoken, heard, on + k, seconds=1.5) for k in (0.0, 1.0, 2.0)), key=lambda r: r[1])
    assert score > 0.45, (at, score)


def test_the_routes_of_a_voice_reach_every_station_once():
    """Where a voice goes from a hub: its stations' subjects, straight into the account of a station that
    is a hub for the stations below it that play the zones (named in the session), and from a hub that
    receives it, only to those of its stations the one above did not reach."""
    from types import SimpleNamespace
    from broadcaster.fleet.live import live_routes
    zones = {"c1": "xa_1", "c2": "xa_1", "c3": "xa_2", "loa": None}
    cfg = SimpleNamespace(stations=lambda: ["xa_1", "xa_2"],
                          zones_of=lambda s: [z for z, st in zones.items() if st == s])
    below = {"xa_1": {"stations": {"cum_1": {"zones": ["c1"]}, "cum_2": {"zones": ["c2"]}}}}   # xa_2 never told
    assert live_routes(cfg, below, ["c1", "c3"], origin=True) == [
        (["bc.live.xa_1", "down.xa_1.live.cum_1"], ["cum_1"]), (["bc.live.xa_2"], [])]
    assert live_routes(cfg, below, ["c1", "c2"], origin=True) == [
        (["bc.live.xa_1", "down.xa_1.live.cum_1", "down.xa_1.live.cum_2"], ["cum_1", "cum_2"])]
    # at commune xa_1 (its stations cum_1, cum_2): cum_1 was reached straight, cum_2 was not
    commune = {"c1": "cum_1", "c2": "cum_2"}
    cfg = SimpleNamespace(stations=lambda: ["cum_1", "cum_2"], zones_of=lambda s: [z for z, st in commune.items() if st == s])
    assert live_routes(cfg, {}, ["c1", "c2"], origin=False, covered={"cum_1"}) == [(["bc.live.cum_2"], [])]
    assert live_routes(cfg, {}, ["loa"], origin=False) == []
