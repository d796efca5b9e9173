"""Acceptance of the district network through real processes: one nats-server, a district project
and two station daemons, each playing into its own PulseAudio null sink."""

from __future__ import annotations

import json
import time

import pytest

from tests.fleet import cli, make_fleet  # noqa: F401  (a fixture)
from tests.pulse import Recorder, segments
from tests.station import FREQS

pytestmark = pytest.mark.audio


def bulletin_of(freq: float) -> str:
    return min(FREQS, key=lambda b: abs(FREQS[b] - freq))


def test_publish_air_cut_the_server_restore_and_an_urgent_command(make_fleet, pulse, tmp_path):
    fleet = make_fleet({"qa": "zone_a", "qb": "zone_b"})
    # a on both at +20; b on both at +40 and c on qa at +48, while the server is down (+25 … +55)
    slots = [("a", ["qa", "qb"], 20, "normal"), ("b", ["qa", "qb"], 40, "normal"), ("c", ["qa"], 48, "normal")]
    fleet.district_config(slots, time.time() + 3600)
    fleet.init()
    fleet.start_server()
    for s in fleet.stations:
        fleet.station_config(s)
        fleet.start_daemon(s, pulse.env)
    assert cli(fleet.district, "build").code == 0     # rendered before the clock starts: publish only sends
    t0 = time.time()
    fleet.district_config(slots, t0)
    rec = {s: Recorder(pulse, sink, tmp_path / f"{sink}.raw") for s, sink in fleet.devices.items()}
    r = cli(fleet.district, "publish")
    assert r.code == 0, r.err
    for s in fleet.stations:
        fleet.wait_for_log(s, "the hub's programme version")
    # (if this fails, the machine was too slow for the test's schedule: not a fault of what is tested)
    assert time.time() < t0 + 18, f"the stations installed the programme {time.time() - t0:.1f} s after t0"
    time.sleep(max(0.0, t0 + 25 - time.time()))
    fleet.server.kill()                              # the district's server gone for 30 s
    time.sleep(max(0.0, t0 + 55 - time.time()))
    fleet.server.start()
    fleet.wait_for_log("qa", "link to the hub: connected", timeout=30)
    r = cli(fleet.district, "play", "d", "--station", "qa", "--urgent")
    assert r.code == 0 and "Sent to station qa" in r.out, r.err
    fleet.wait_for_log("qa", "from hub:", timeout=15)
    time.sleep(8)
    heard = {s: [(round(on, 2), bulletin_of(f)) for on, _off, f in segments(x.stop())] for s, x in rec.items()}

    # what reached the loudspeakers: the programme, played through the outage, and the urgent only on qa
    assert [b for _t, b in heard["qa"]] == ["a", "b", "c", "d"], heard
    assert [b for _t, b in heard["qb"]] == ["a", "b"], heard

    # what reached the district: every airing once, the offline ones too, the command's with its id
    deadline = time.time() + 20
    while True:
        status = json.loads(cli(fleet.district, "fleet", "status", "--json").out)
        if all(x["online"] and x["backlog"] == 0 and x["programme"] == x["published"] for x in status) \
                and {x["station"]: x["received"] for x in status} == {"qa": 4, "qb": 2}:
            break
        assert time.time() < deadline, status
        time.sleep(1)
    rows = json.loads(cli(fleet.district, "log", "--json").out)
    # each daemon's own measure of its first sample out against the time due: on time, through the outage too
    timed = [r for r in rows if r["station"] and r["bulletin"] != "d"]
    assert all(abs(r["start_error_ms"]) < 100 for r in timed), [(r["station"], r["bulletin"], r["start_error_ms"])
                                                                  for r in timed]
    # and as heard: 20 s between a and b, as scheduled (onsets compared with each other)
    for s in ("qa", "qb"):
        (ta, _), (tb, _) = heard[s][:2]
        assert abs((tb - ta) - 20.0) < 0.1, (heard[s], f"the recording is {rec[s].lost} s shorter than the wall time")
    assert abs((heard["qa"][2][0] - heard["qa"][1][0]) - 8.0) < 0.1, heard["qa"]
    got = sorted((r["station"], r["bulletin"], r["status"]) for r in rows if r["station"])
    assert got == [("qa", "a", "played"), ("qa", "b", "played"), ("qa", "c", "played"), ("qa", "d", "played"),
                   ("qb", "a", "played"), ("qb", "b", "played")], rows
    urgent = [r for r in rows if r["bulletin"] == "d"]
    assert len(urgent) == 1 and urgent[0]["command"], urgent
    only_qa = json.loads(cli(fleet.district, "log", "--station", "qa", "--json").out)
    assert {r["station"] for r in only_qa} == {"qa"} and len(only_qa) == 4
    r = cli(fleet.district, "report", "--station", "qb", "-o", "qb.json")
    assert r.code == 0, r.err
    totals = {(c["zone"], c["bulletin"]): c for c in
              json.loads((fleet.district / "qb.json").read_text())["totals"]}
    assert set(totals) == {("qb", "a"), ("qb", "b")} and all(c["aired"] == 1 for c in totals.values()), totals
    for s in fleet.stations:
        assert "programme refused" not in fleet.daemon_log(s)


def test_an_emergency_at_the_hub_reaches_a_station_below_and_its_stop_fades_it_out(make_fleet, pulse, tmp_path):
    """The hub's emergency page: the station's command is sent, taken (its consumer acknowledged it),
    aired (the row it sent up), and the stop — a signed order through the same server — fades it out."""
    import os
    import subprocess
    import sys
    from tests.console import ConsoleServer, add_user
    from tests.test_emergency import follow
    from tests.test_web_hardening import logged_in
    fleet = make_fleet({"qa": "zone_a"})
    fleet.district_config([], time.time())
    hub = fleet.district / "schedule.toml"
    hub.write_text(hub.read_text().replace('script = "scripts/b.txt"', 'script = "scripts/b.txt"\nrepeat = 8')
                   .replace('device = "default"', 'device = "zone_b"'), encoding="utf-8")
    fleet.init()
    fleet.start_server()
    fleet.station_config("qa")
    fleet.start_daemon("qa", pulse.env)
    assert cli(fleet.district, "build").code == 0
    assert cli(fleet.district, "publish").code == 0   # the station plays the zones its hub's programme gives it
    fleet.wait_for_log("qa", "the hub's programme version")
    log = open(tmp_path / "hub.daemon.log", "ab")
    daemon = subprocess.Popen([sys.executable, "-m", "broadcaster", "daemon"], cwd=fleet.district, stdout=log,
                              stderr=subprocess.STDOUT, env={**os.environ, "LANG": "C.UTF-8", **pulse.env})
    rec = Recorder(pulse, "zone_a", tmp_path / "zone_a.raw")
    add_user(fleet.district, "chi", "technician")
    console = ConsoleServer(fleet.district, tmp_path / "web.log", env=pulse.env)
    try:
        c = logged_in(console, "chi")
        deadline = time.time() + 20
        while "daemon started" not in (tmp_path / "hub.daemon.log").read_text(errors="replace"):
            assert time.time() < deadline and daemon.poll() is None, (tmp_path / "hub.daemon.log").read_text()
            time.sleep(0.2)
        r = c.post("/emergency", data={"csrf": c.csrf("/emergency"), "bulletin": "b", "station": ["qa"],
                                       "repeats": "0", "every": "10", "deadline": "30"})
        assert r.status_code == 303, r.text
        page = r.headers["location"]
        st, seen = follow(c, page, lambda z: z["status"] == "playing", 45, lambda: (
            (tmp_path / "hub.daemon.log").read_text()[-3000:], fleet.daemon_log("qa")[-3000:]))
        assert "received" in seen or st["zones"][0]["step"] == "aired", seen
        assert st["zones"][0]["step"] == "aired" and st["zones"][0]["station"] == "qa"
        assert c.post(page + "/stop", data={"csrf": c.csrf(page)}).status_code == 303
        st, _seen = follow(c, page, lambda z: z["status"] == "interrupted", 30, lambda: fleet.daemon_log("qa")[-3000:])
        assert st["status"] == "stopped" and st["rounds"] == 1
        # the hub's clusters page: the cluster's state from its station's own heartbeat, its last airing
        import re
        deadline = time.time() + 20   # the heartbeat that says it no longer plays: every few seconds
        while (row := re.search(r'<tr data-zone="qa" class="(\w+)">(.*?)</tr>', c.get("/clusters").text, re.S)) \
                and row.group(1) == "playing" and time.time() < deadline:
            time.sleep(1)
        assert row and row.group(1) == "idle" and "qa · heard from" in row.group(2), row and row.group(0)
        assert re.search(r"b 20\d\d-\d\d-\d\d \d\d:\d\d \(interrupted\)", row.group(2)), row.group(2)
    finally:
        console.stop()
        daemon.terminate()
        daemon.wait(15)
    heard = segments(rec.stop())
    rows = json.loads(cli(fleet.stations["qa"], "log", "--json").out)
    [b] = [r for r in rows if r["bulletin"] == "b"]
    assert b["status"] == "interrupted" and "stopped by hub" in b["reason"] and b["command"], b
    assert heard and heard[-1][1] - heard[0][0] < 8 * 2.0, heard   # cut short: 8 repeats would last longer
