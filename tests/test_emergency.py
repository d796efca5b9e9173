"""Emergencies as their own thing (issue 31), through a real console, a real daemon and the real audio
path: each cluster's state goes sent → received → aired → heard (its monitor, a null sink's monitor,
confirms it), a stop fades out what plays and ends the rounds, a village-limited account cannot start
one elsewhere, and every step is in the audit."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.console import PASSWORD, ConsoleServer, add_user
from tests.test_monitor import LONG, monitors
from tests.test_web_hardening import logged_in

pytestmark = pytest.mark.audio


def follow(client, page: str, done, seconds: float, why=lambda: "") -> tuple[dict, list]:
    """Read an emergency's live state (its page's /state) until ``done(its first zone's state)``: the last
    state read and each step that zone was seen at, in order; an AssertionError (with ``why()``) after
    ``seconds``."""
    seen, deadline = [], time.time() + seconds
    while True:
        st = client.get(page + "/state").json()
        zone = st["zones"][0]
        if not seen or seen[-1] != zone["step"]:
            seen.append(zone["step"])
        if done(zone):
            return st, seen
        assert time.time() < deadline, (st, seen, why())
        time.sleep(0.2)


def test_an_emergency_is_followed_to_heard_and_stopped_from_its_page(station, pulse, tmp_path):
    monitors(pulse)
    station.project.write("scripts/a.txt", LONG)
    station.configure([("c", ["za"], 3600, "normal")], repeat={"b": 8},
                      zones={"za": "mon_a", "zb": "zone_b"}, zone_keys={"za": ['monitor = "mon_a_in"'],
                                                                       "zb": ['village = "Thôn 2"']},
                      extra=lambda when: ["[groups]", 'ben_song = ["za"]'])
    station.build()
    root = station.root
    add_user(root, "dung", "technician")
    r = subprocess.run([sys.executable, "-m", "broadcaster", "user", "add", "truong-thon", "--role", "technician",
                        "--places", "zb"], cwd=root, input=f"{PASSWORD}\n{PASSWORD}\n", capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    station.start()
    console = ConsoleServer(root, tmp_path / "web.log", env=station.pulse.env)
    try:
        c = logged_in(console, "dung")
        page = c.get("/emergency").text
        assert 'value="ben_song"' in page and 'id="chosen"' in page
        r = c.post("/emergency", data={"csrf": c.csrf("/emergency"), "bulletin": "a", "group": ["ben_song"],
                                       "repeats": "1", "every": "5", "deadline": "30"})
        assert r.status_code == 303, r.text
        first = r.headers["location"]
        st, seen = follow(c, first, lambda z: z["step"] == "heard", 60, lambda: station.daemon_log()[-3000:])
        assert len(st["zones"]) == 1, st
        order = ["sent", "received", "aired", "heard"]
        assert seen[-1] == "heard" and "aired" in seen, (seen, station.daemon_log()[-3000:])   # aired, then heard
        assert [s for s in seen if s] == sorted((s for s in seen if s), key=order.index), seen   # never backwards
        assert st["counts"] == {"sent": 1, "received": 1, "aired": 1, "heard": 1}
        assert '<td class="step heard">' in c.get(first).text   # the page itself, as an officer opens it
        # until stopped: the long one is faded out by the stop, and no round follows
        r = c.post("/emergency", data={"csrf": c.csrf("/emergency"), "bulletin": "b", "zone": ["za"], "repeats": "0",
                                       "every": "0.5", "deadline": "30"})
        second = r.headers["location"]
        follow(c, second, lambda z: z["status"] == "playing", 30, lambda: station.daemon_log()[-3000:])
        time.sleep(1.0)
        r = c.post(second + "/stop", data={"csrf": c.csrf(second)})
        assert r.status_code == 303
        st, _seen = follow(c, second, lambda z: z["status"] == "interrupted", 10, lambda: station.daemon_log()[-3000:])
        assert st["status"] == "stopped" and st["rounds"] == 1
        assert c.post(second + "/stop", data={"csrf": c.csrf(second)}).status_code == 303   # again: nothing more
        # a village head limited to Thôn 2 (zb) starts nothing on za, sees only zb, opens no other emergency
        head = logged_in(console, "truong-thon")
        page = head.get("/emergency").text
        assert 'value="zb"' in page and 'value="za"' not in page and 'value="ben_song"' not in page
        assert 'name="village" value="Thôn 2"' in page   # their village, as a target
        r = head.post("/emergency", data={"csrf": head.csrf("/emergency"), "bulletin": "a", "zone": ["za"],
                                          "repeats": "1", "every": "5", "deadline": "30"})
        assert r.status_code == 403
        assert head.get(first).status_code == 404 and head.post(second + "/stop", data={
            "csrf": head.csrf("/emergency")}).status_code == 404
    finally:
        console.stop()
    assert station.stop() == 0
    rows = [x for x in station.log() if x["bulletin"] == "b"]
    assert len(rows) == 1 and rows[0]["status"] == "interrupted" and "stopped by dung" in rows[0]["reason"], rows
    from tests.test_web_security import audit
    trail = [(u, a) for _t, u, _ad, a, _d in audit(station.project)]
    assert ("dung", "emergency") in trail and ("dung", "emergency stop") in trail
    assert ("truong-thon", "refused") in trail
    from broadcaster.records.playlog import Journal
    from broadcaster.daemon import emergencies as em
    j = Journal(root / "state")
    try:
        assert len(em.listed(j)) == 2   # the refused one was never created
    finally:
        j.close()
