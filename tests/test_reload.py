"""A reload is all or nothing (issue 36, item 7): when one part cannot take a new configuration (an import
failing half-way through an upgrade, here a part that raises once), every part keeps the configuration
that ran, the schedule goes on airing, the new one is tried again and taken; a request for a zone the
reload adds is never lost. The daemon is a real process on null sinks; only the failing part is ours."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.pulse import tone_onsets
from tests.station import FREQS

pytestmark = pytest.mark.audio

# the daemon with one more part, before the zones, whose first reload that adds zone zb raises
RUNNER = """
import sys
from pathlib import Path
from broadcaster.daemon.daemon import PARTS, Daemon, setup_logging
from broadcaster.daemon.parts import Part
from broadcaster.daemon.renderer import Renderer

class Upgrading(Part):
    name = "upgrading"
    failed = False

    def reload(self, old, new):
        if "zb" in new.zones and "zb" not in old.zones and not Upgrading.failed:
            Upgrading.failed = True
            raise ImportError("cannot import name 'x' from partially installed module")

at = PARTS.index(Renderer) + 1
setup_logging(Path("state"))
sys.exit(Daemon(Path("schedule.toml"), parts=(*PARTS[:at], Upgrading, *PARTS[at:])).run_forever())
"""


def test_a_part_that_cannot_reload_leaves_the_old_configuration_airing_and_the_new_one_is_taken_later(station):
    station.configure([("a", ["za"], 9, "normal")], zones={"za": "zone_a"}, t0_in=2)
    station.build()
    station.record("zone_a", "zone_b")
    env = {**os.environ, **station.pulse.env}
    out = open(station.tmp / "daemon.log", "ab")
    proc = subprocess.Popen([sys.executable, "-c", RUNNER], cwd=station.root, env=env, stdout=out,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while b"daemon started" not in (station.tmp / "daemon.log").read_bytes():
            assert proc.poll() is None and time.time() < deadline, station.daemon_log()
            time.sleep(0.1)
        # the edit adds zone zb with an airing 22 s on: the first reload fails in our part
        text = station.project.read("schedule.toml")
        station.project.write("schedule.toml", text + '[zones.zb]\ndevice = "zone_b"\n[[slots]]\nbulletin = "b"\n'
                              f'zones = ["zb"]\nat = ["{station.when(22)}"]\n')
        deadline = time.time() + 15
        while "could not take the new configuration" not in station.daemon_log():
            assert time.time() < deadline, station.daemon_log()
            time.sleep(0.2)
        station.wait_until(27)
    finally:
        proc.terminate()
        assert proc.wait(15) == 0, station.daemon_log()
    log = station.daemon_log()
    assert "upgrading could not take the new configuration" in log, log
    assert "KeyError" not in log and "plan failed" not in log and "requests failed" not in log, log
    assert "configuration reloaded" in log, log   # tried again and taken
    a = tone_onsets(station.recorders.pop("zone_a").stop(), FREQS["a"])
    b = tone_onsets(station.recorders.pop("zone_b").stop(), FREQS["b"])
    assert a and b and min(b) - min(a) > 8, (a, b, log[-3000:])   # the old programme aired; then the new one
    rows = sorted((x["zone"], x["bulletin"], x["status"]) for x in station.log())
    assert rows == [("za", "a", "played"), ("zb", "b", "played")], rows
