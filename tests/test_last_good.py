"""Never silent (issue 36, item 3): a station that ever ran a good configuration keeps playing it. schedule.toml
is broken five ways (TOML syntax, an unknown key, a date out of range, a missing script, a bulletin submitted
and never approved) and the daemon restarted each time: it airs the last good programme on time, and the alert
(status, the log) names the problem; fixed, the project's own is taken and the alert clears. A PC that never
ran one refuses to start. Real daemons on a null sink; the onsets are compared with each other."""

from __future__ import annotations

import time

import pytest

from tests.pulse import tone_onsets
from tests.station import FREQS

pytestmark = pytest.mark.audio

SPACING = 7.0   # seconds between the good programme's airings, one a round


def start(station) -> None:
    """Start the daemon and wait for this start's own "daemon started" (the log file keeps earlier runs')."""
    before = station.daemon_log().count("daemon started") if (station.tmp / "daemon.log").exists() else 0
    station.start()
    deadline = time.time() + 30
    while station.daemon_log().count("daemon started") <= before:
        assert station.proc.poll() is None and time.time() < deadline, station.daemon_log()[-3000:]
        time.sleep(0.1)


def test_the_last_good_configuration_airs_whatever_breaks_and_the_alert_names_it(station):
    from tests.console import PASSWORD, add_user
    from tests.test_never_silent import cli
    times = [16 + SPACING * i for i in range(5)]   # (the first after set-up: users, approval, a start and a stop)
    station.configure([], t0_in=2, extra=lambda when: [
        "[approval]", "required = true", "[[slots]]", 'bulletin = "a"', 'zones = ["za"]',
        "at = [" + ", ".join(f'"{when(s)}"' for s in times) + "]"])
    good = station.project.read("schedule.toml")
    station.build()
    root = station.root
    # a PC that never ran a configuration: a broken one refuses to start
    station.project.write("schedule.toml", good + "[[slots]\n")
    r = cli(root, "daemon")
    assert r.returncode == 2 and "the daemon did not start" in r.stderr, r.stderr
    station.project.write("schedule.toml", good)
    for name, role in (("bt", "editor"), ("chi", "approver")):
        add_user(root, name, role)
    assert cli(root, "submit", "a", "--user", "bt", stdin=PASSWORD + "\n").returncode == 0
    assert cli(root, "approve", "a", "--user", "chi", stdin=PASSWORD + "\n").returncode == 0
    start(station)   # the good one runs once: kept
    assert station.stop() == 0
    (root / "scripts" / "e.txt").write_text("Tin mới.", encoding="utf-8")
    broken = [
        (good + "[[slots]\n", "schedule.toml:"),                                          # TOML syntax
        (good.replace("repeat = 1\n", "repeet = 1\n", 1), "repeet"),                     # an unknown key
        (good + '[[slots]]\nbulletin = "b"\nzones = ["za"]\nat = ["05:00"]\nstart = 0001-01-01\n',
         "outside the dates broadcaster takes"),                                           # a date out of range
        (good + '[bulletins.gone]\nscript = "scripts/gone.txt"\n', "gone.txt"),         # a missing script
        (good + '[bulletins.e]\nscript = "scripts/e.txt"\n', None),                      # submitted, never approved
    ]
    station.record("zone_a")
    for i, (text, says) in enumerate(broken):
        station.project.write("schedule.toml", text)
        if says is None:
            assert cli(root, "submit", "e", "--user", "bt", stdin=PASSWORD + "\n").returncode == 0
        start(station)
        r = cli(root, "status")
        if says is not None:
            assert r.returncode == 0 and "configuration cannot be used" in r.stdout + r.stderr, (i, r.stdout, r.stderr)
            assert says in r.stdout, (i, says, r.stdout)
        else:   # a pending first approval is a warning: the project's own runs, nothing to fall back on
            assert r.returncode == 0 and "configuration cannot be used" not in r.stdout, (r.stdout, r.stderr)
        station.wait_until(times[i] + 3.5)
        assert station.stop() == 0, station.daemon_log()[-2000:]
    # fixed while the last good one runs: the project's own is taken, the alert cleared
    station.project.write("schedule.toml", broken[0][0])
    start(station)
    station.project.write("schedule.toml", good)
    deadline = time.time() + 30
    while "the configuration loads again and runs" not in station.daemon_log():
        assert time.time() < deadline, station.daemon_log()[-3000:]
        time.sleep(0.3)
    assert "configuration cannot be used" not in cli(root, "status").stdout
    assert station.stop() == 0
    rows = sorted((x for x in station.log() if x["bulletin"] == "a"), key=lambda x: x["scheduled"])
    assert [x["status"] for x in rows] == ["played"] * 5, rows
    assert all(x["start_error_ms"] is not None and abs(x["start_error_ms"]) < 100 for x in rows), rows
    onsets = tone_onsets(station.recorders.pop("zone_a").stop(), FREQS["a"], min_gap=3.0)
    assert len(onsets) == 5, onsets
    gaps = [b - a for a, b in zip(onsets, onsets[1:])]
    assert all(abs(g - SPACING) < 0.15 for g in gaps), gaps   # each on time, against the others
