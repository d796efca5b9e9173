"""The playback daemon through the real audio path: private PulseAudio, null sinks, parec.

Each test writes a small station (two zones on two null sinks, bulletins whose opening
jingle is a pure tone, so a recording tells them apart), runs `broadcaster daemon` as a
process, records both sinks, and checks the recordings and the play log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest

from tests.pulse import tone_onset

from tests.station import FREQS

pytestmark = pytest.mark.audio

def bulletin_of(freq: float) -> str:
    return min(FREQS, key=lambda b: abs(FREQS[b] - freq))


@pytest.mark.alone   # onsets to 20 ms: run after the others, alone
def test_two_zones_play_their_own_bulletins_on_time(station):
    station.configure([("a", ["za"], 0, "normal"), ("b", ["za"], 4, "normal"),
                       ("b", ["zb"], 0, "normal"), ("a", ["zb"], 5, "normal")])
    station.build()
    station.record("zone_a", "zone_b")
    station.start()
    station.wait_until(9.5)
    assert station.stop() == 0
    rec = station.recordings()
    for sink, expected in (("zone_a", [("a", 0), ("b", 4)]), ("zone_b", [("b", 0), ("a", 5)])):
        segs = rec[sink]
        assert [bulletin_of(f) for _, _, f in segs] == [b for b, _ in expected], (sink, segs)
        onsets = [on for on, _, _ in segs]
        assert onsets[1] - onsets[0] == pytest.approx(expected[1][1] - expected[0][1], abs=0.02)
        for (on, off, _), (b, _) in zip(segs, expected):  # complete: as long as the file's sound
            [(f_on, f_off, _)] = station.file_segments(b)
            assert off - on == pytest.approx(f_off - f_on, abs=0.05)
    rows = station.log()
    assert sorted((r["zone"], r["bulletin"], r["status"]) for r in rows) == [
        ("za", "a", "played"), ("za", "b", "played"), ("zb", "a", "played"), ("zb", "b", "played")]
    assert all(r["started"] and r["ended"] for r in rows)


def test_urgent_interrupts_and_a_busy_zone_makes_normal_airings_wait(station):
    station.configure([("a", ["za", "zb"], 0, "normal"), ("c", ["zb"], 2, "normal")], repeat={"a": 4})
    station.build()
    station.record("zone_a")
    station.start()
    station.wait_until(2.5)
    r = station.project.run("play", "b", "--zone", "za", "--urgent")
    assert r.code == 0, r.err + r.out
    assert "Sent to the daemon" in r.out and r.out.strip().endswith("played")
    full_a = station.file_segments("a")[0]
    station.wait_until(full_a[1] + 6)
    assert station.stop() == 0
    rows = {(x["zone"], x["bulletin"]): x for x in station.log()}
    assert rows[("za", "a")]["status"] == "interrupted" and "urgent" in rows[("za", "a")]["reason"]
    assert rows[("za", "b")]["status"] == "played"
    assert rows[("zb", "a")]["status"] == "played"
    assert rows[("zb", "c")]["status"] == "late" and "busy" in rows[("zb", "c")]["reason"]
    x = station.recorders["zone_a"].stop()
    a_on = tone_onset(x, FREQS["a"])
    b_on = tone_onset(x, FREQS["b"], after=a_on)
    assert b_on - a_on < (full_a[1] - full_a[0]) - 2   # "a" was cut short by "b"
    assert 2.0 < b_on - a_on < 4.5  # asked at 2.5 s: + request poll (0.5 s) + fade (0.5 s) + pre-roll


def test_kill_9_then_restart_marks_interrupted_plays_within_grace_and_misses_older(station):
    station.configure([("a", ["za"], 0, "normal"), ("b", ["za"], 2, "normal"), ("c", ["za"], 8.5, "normal"),
                       ("d", ["za"], 16, "normal")], repeat={"a": 4}, grace="4s")
    station.build()
    station.start()
    station.wait_until(1.0)
    station.proc.kill()  # SIGKILL in the middle of "a"
    station.proc.wait()
    station.wait_until(7.5)
    station.start()
    station.wait_until(12)
    good = (station.root / "schedule.toml").read_text(encoding="utf-8")
    station.project.write("schedule.toml", good.replace('repeat = 1\n', 'repeat = "often"\n', 1))
    station.wait_until(19)
    assert station.stop() == 0
    station.project.write("schedule.toml", good)
    rows = station.log()
    by = {r["bulletin"]: r for r in rows}
    assert len(rows) == 4, rows  # one row per airing: none doubled, none lost
    assert by["a"]["status"] == "interrupted" and "stopped during the airing" in by["a"]["reason"]
    assert by["b"]["status"] == "missed"
    assert by["c"]["status"] in ("played", "late")
    assert by["d"]["status"] == "played"  # the old schedule kept playing after the bad edit
    assert "the edited configuration is not valid; the old one keeps running" in station.daemon_log()
    assert 'repeat must be a whole number, not "often"' in station.daemon_log()


def test_missing_device_and_corrupt_audio_fail_one_airing_and_the_daemon_lives(station):
    station.configure([("a", ["za", "zx"], 0, "normal"), ("c", ["za"], 5, "normal")],
                      zones={"za": "zone_a", "zx": "no-such-card"})
    station.build()
    broken = station.project.write("broken.wav", b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    station.start()
    assert "zone zx: no sound output is called \"no-such-card\"" in station.daemon_log()
    station.wait_until(2.5)
    r = station.project.run("play", str(broken), "--zone", "za")
    assert r.code == 1 and "failed: cannot open broken.wav" in r.out
    station.wait_until(8)
    assert station.stop() == 0
    rows = {(x["zone"], x["bulletin"]): x for x in station.log()}
    assert rows[("zx", "a")]["status"] == "failed" and "no-such-card" in rows[("zx", "a")]["reason"]
    assert rows[("za", "a")]["status"] == "played"
    assert rows[("za", "broken.wav")]["status"] == "failed"
    assert rows[("za", "c")]["status"] == "played"


def test_a_sound_card_plugged_in_after_start_is_found_at_the_next_airing(station):
    station.configure([("a", ["zc"], 0, "normal"), ("b", ["zc"], 6, "normal")],
                      zones={"za": "zone_a", "zc": "zone_c"})
    station.build()
    station.start()
    assert 'zone zc: no sound output is called "zone_c"' in station.daemon_log()
    station.wait_until(2)
    station.pulse.add_sink("zone_c")  # plugged in while the daemon runs
    station.record("zone_c")
    station.wait_until(10)
    assert station.stop() == 0
    rows = {x["bulletin"]: x for x in station.log()}
    assert rows["a"]["status"] == "failed" and "zone_c" in rows["a"]["reason"]
    assert rows["b"]["status"] == "played"
    assert [bulletin_of(f) for _, _, f in station.recordings()["zone_c"]] == ["b"]
    assert "zone zc: its sound output is back" in station.daemon_log()


def test_play_without_a_daemon_plays_here_and_logs(station):
    station.configure([])
    station.build()
    station.record("zone_a")
    r = station.project.run("play", "d", "--zone", "za")
    assert r.code == 0 and "no daemon serves this zone" in r.out and r.out.strip().endswith("played")
    segs = station.recordings()["zone_a"]
    assert [bulletin_of(f) for _, _, f in segs] == ["d"]
    [row] = station.log()
    assert (row["zone"], row["bulletin"], row["status"]) == ("za", "d", "played")
    csv_out = station.project.run("log", "--csv").out.splitlines()
    assert csv_out[0] == ("scheduled,started,ended,zone,bulletin,status,reason,audio_sha256,station,command,"
                          "start_error_ms,relayed_s,fallback_s,heard,heard_delay_ms,heard_score,heard_note,dropouts")
    assert ",za,d,played," in csv_out[1]
    # started is when the first sample left the sound card (PortAudio's time), measured, not assumed:
    # never before it was due (a cold sound server can make it late; that is what the number is for)
    assert isinstance(row["start_error_ms"], float) and row["start_error_ms"] > -50
    assert datetime.fromisoformat(row["started"]) >= datetime.fromisoformat(row["scheduled"])


def test_live_edit_of_the_schedule_is_picked_up(station):
    station.configure([("a", ["za"], 3, "normal")], t0_in=6)
    station.build()
    station.start()
    text = (station.root / "schedule.toml").read_text(encoding="utf-8")
    station.project.write("schedule.toml", text + f'[[slots]]\nbulletin = "b"\nzones = ["za"]\n'
                                                  f'at = ["{station.when(7)}"]\n')
    station.wait_until(10)
    assert station.stop() == 0
    assert sorted(r["bulletin"] for r in station.log() if r["status"] == "played") == ["a", "b"]
    assert "configuration reloaded" in station.daemon_log()


def test_a_second_daemon_on_the_same_state_folder_refuses(station):
    station.configure([])
    station.build()
    station.start()
    env = {**os.environ, **station.pulse.env}
    p = subprocess.run([sys.executable, "-m", "broadcaster", "daemon"], cwd=station.root, env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "another broadcaster daemon is already running" in p.stderr and "Traceback" not in p.stderr
    assert station.stop() == 0


def test_sigterm_fades_out_logs_interrupted_and_exits_0(station):
    station.configure([("a", ["za"], 0, "normal"), ("b", ["zb"], 0, "normal")], repeat={"a": 4, "b": 4})
    station.build()
    station.start()
    station.wait_until(2)
    r = station.project.run("status")
    assert r.code == 0 and "playing: a since" in r.out and "playing: b since" in r.out
    assert station.stop(signal.SIGINT) == 0
    rows = station.log()
    assert {(x["zone"], x["status"], x["reason"]) for x in rows} == {
        ("za", "interrupted", "the daemon was stopped"), ("zb", "interrupted", "the daemon was stopped")}
    assert "last:    a at" in station.project.run("status").out


def test_stale_and_missing_audio_are_rendered_ahead_of_their_airing(station):
    # c 4 s after a: enough for a to end and c's stream to open (back to back is another test's subject)
    station.configure([("a", ["za"], 9, "normal"), ("c", ["za"], 13, "normal")], t0_in=4)
    station.build()
    old_a = station.project.sidecar("a")["audio_sha256"]
    (station.root / "audio_out" / "c.wav").unlink()           # missing
    station.project.write("scripts/a.txt", "Xin chào toàn thể bà con.")  # stale
    station.start()
    station.wait_until(13.5)  # rendered by now: their lengths tell how long to wait

    def length(b):
        return station.file_segments(b)[-1][1]  # where its last sound ends
    station.wait_until(max(13, 9 + length("a")) + length("c") + 1.5)  # c waits while a is on air
    assert station.stop() == 0
    rows = {x["bulletin"]: x for x in station.log()}
    assert rows["a"]["status"] == "played" and rows["c"]["status"] == "played", rows
    new_a = station.project.sidecar("a")["audio_sha256"]
    assert new_a != old_a
    journal = station.project.run("log", "--json")
    from broadcaster.records.playlog import Journal
    j = Journal(station.root / "state")
    played = {r.bulletin: r.audio_sha256 for r in j.rows()}
    j.close()
    assert played["a"] == new_a
    assert "rendering a ahead of its airings" in station.daemon_log()
    assert journal.code == 0


def test_clock_jumps_forward_and_back_cause_no_storm_and_no_double(station, caplog):
    """The daemon in this process, with a clock the test can move (as an NTP step or a bad
    BIOS battery would), playing into the null sinks."""
    import logging
    from zoneinfo import ZoneInfo
    from broadcaster.daemon.clock import Clock
    from broadcaster.daemon.daemon import Daemon
    station.configure([("a", ["za"], 0, "normal"), ("b", ["za"], 3600 - 60, "normal"),
                       ("c", ["za"], 3600 + 8, "normal"), ("d", ["za"], 13, "normal")], t0_in=4)
    station.build()
    station.record("zone_a")
    clock = Clock(ZoneInfo("UTC"))
    daemon = Daemon(station.root / "schedule.toml", clock=clock)
    caplog.set_level(logging.INFO, logger="broadcaster")
    daemon.start()
    try:
        station.wait_until(3)          # "a" has played
        clock.offset += 3600           # forward: "b" is now a minute old, well within grace
        station.wait_until(10)         # "c" plays at t0+3608 on the moved clock
        clock.offset -= 3600           # and back: "d" at t0+13 is still to come
        station.wait_until(17)
    finally:
        daemon.stop()
    heard = station.recordings()["zone_a"]
    rows = station.log()
    status = {r["bulletin"]: r for r in rows}
    # "b" was logged missed by the jump forward (not played late in a burst); when the clock came
    # back, that row was taken back, since "b" is again an hour away. "d" lay in the skipped hour
    # too and plays at its real time; "c" played on the moved clock and will not play again.
    assert sorted(status) == ["a", "c", "d"] and len(rows) == 3, rows
    assert {b: r["status"] for b, r in status.items()} == {"a": "played", "c": "played", "d": "played"}
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "the system clock jumped forward by 3600 s" in messages
    assert "the system clock jumped back by 3600 s" in messages
    assert "(2 airing(s) logged missed by an earlier jump are still to come)" in messages
    # what reached the speakers: three bulletins, each once, in that order; no burst after the jumps
    assert [bulletin_of(f) for _on, _off, f in heard] == ["a", "c", "d"], heard


def test_an_airing_added_within_its_lead_of_being_due_still_airs(station):
    """A programme that arrives a second or two before one of its airings (the daemon had planned those
    seconds with the schedule before): the airing is planned at the reload, never silently lost."""
    station.configure([("a", ["za"], 3, "normal")], t0_in=6)
    station.build()
    station.start()
    station.wait_until(6)   # a has played; the daemon plans 10 s ahead from here on
    text = (station.root / "schedule.toml").read_text(encoding="utf-8")
    at = time.time() - station.t0 + 2.5
    station.project.write("schedule.toml", text + f'[[slots]]\nbulletin = "b"\nzones = ["za"]\n'
                                                  f'at = ["{station.when(at)}"]\n')
    station.wait_until(at + 6)
    assert station.stop() == 0
    rows = {r["bulletin"]: r for r in station.log()}
    assert rows.get("b", {}).get("status") in ("played", "late"), (rows, station.daemon_log()[-2000:])   # late if it must
