"""Every dropout on the air is counted and said (issue 36, item 11): a daemon stalled for a second while it
plays (SIGSTOP, as a busy PC would stall it) lets the sound card run dry; the airing's row counts the dropouts
and says so, and `log` and `status` show it: it is not simply "played"."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

pytestmark = pytest.mark.audio


def test_a_stalled_daemon_s_dropouts_are_on_the_airing_s_row(station):
    station.configure([("a", ["za"], 4, "normal"), ("b", ["zb"], 4, "normal")], repeat={"a": 4}, t0_in=3)
    station.build()
    station.start()
    station.wait_until(5.5)   # a plays on za, b on zb
    os.kill(station.proc.pid, signal.SIGSTOP)
    time.sleep(1.0)
    os.kill(station.proc.pid, signal.SIGCONT)
    deadline = time.time() + 30
    while not all(r["ended"] for r in station.log()) or len(station.log()) < 2:
        assert time.time() < deadline, station.daemon_log()[-2000:]
        time.sleep(0.5)
    assert station.stop() == 0
    rows = {r["zone"]: r for r in station.log()}
    a = rows["za"]
    assert a["dropouts"] and a["dropouts"] >= 1 and "dropout" in a["reason"], a
    assert "dropout" in station.daemon_log()
    r = station.project.run("log")
    assert "dropout" in r.out, r.out
    r = station.project.run("status")
    assert "dropout" in r.out, r.out
    csv = station.project.run("log", "--csv").out.splitlines()
    assert "dropouts" in csv[0].split(","), csv[0]
    assert json.loads(station.project.run("log", "--json").out)[0].keys() >= {"dropouts"}
