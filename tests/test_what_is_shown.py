"""What is shown is true now, in the station's time. The live meter (issue 37, item 4): a station below counts as playing the voice only
from a heartbeat of the last few seconds; one cut off 31 s ago (or a day) is not on the air, whatever its last
heartbeat said."""

from __future__ import annotations

from broadcaster.fleet.status import LIVE_FRESH, playing_below


def row(station: str, seen: float | None, *playing: str) -> dict:
    return {"station": station, "last_seen": seen, "playing": [{"zone": z, "bulletin": "live:an"} for z in playing]}


def test_a_station_cut_off_is_not_on_the_air_whatever_its_last_heartbeat_said():
    now = 1_800_000_000.0
    rows = [row("s1", now - 2, "z1"), row("s2", now - 31, "z2"), row("s3", now - 86400, "z3"), row("s4", None, "z4"),
            {"station": "s5", "last_seen": now - 1, "playing": [{"zone": "z5", "bulletin": "d"}]}]
    assert playing_below(rows, "live:an", now) == {"z1"}
    assert LIVE_FRESH <= 10   # the speaker hears within 10 s that a station dropped out
    assert playing_below([row("s1", now - LIVE_FRESH - 0.1, "z1")], "live:an", now) == set()


def test_the_daemon_s_log_is_in_the_station_s_time_zone(tmp_path):
    """Issue 38, 9: the daemon's log lines carried the PC's UTC beside the slots' local times."""
    import logging
    from datetime import datetime
    from zoneinfo import ZoneInfo
    from broadcaster.daemon.daemon import setup_logging
    tz = ZoneInfo("Asia/Ho_Chi_Minh")   # UTC+7, never the PC's here (CI runs in UTC)
    setup_logging(tmp_path, tz=tz)
    logging.getLogger("broadcaster.daemon").info("zone za: playing a (scheduled %s)", datetime.now(tz).strftime("%H:%M"))
    root = logging.getLogger("broadcaster")
    for h in list(root.handlers):
        h.flush()
        h.close()
        root.removeHandler(h)
    line = (tmp_path / "daemon.log").read_text().splitlines()[-1]
    minutes = [int(s[:2]) * 60 + int(s[3:5]) for s in (line[11:16], line.rsplit("(scheduled ", 1)[1][:5])]
    assert (minutes[0] - minutes[1]) % 1440 in (0, 1), line   # the same minute (or the next, if it turned)


def test_next_takes_a_date_and_time_as_the_program_writes_them(project):
    """Issue 38, 10: `next --from "15/12/2026 06:00"` and "06:00 ngày 15/12/2026" (what the output itself
    shows) were refused; every form reads the same instant as 2026-12-15T06:00."""
    from tests.conftest import BASE_CONFIG
    project.write("schedule.toml", BASE_CONFIG + '[zones.xa]\nname = "Xã"\n[bulletins.b]\nscript = "b.txt"\n'
                  '[[slots]]\nbulletin = "b"\nzones = ["xa"]\nat = ["05:30", "06:00", "17:00"]\n')
    project.write("b.txt", "Xin chào.")
    want = project.run("next", "--json", "--from", "2026-12-15T06:00", "--days", "1")
    assert want.code == 0 and "06:00" in want.out, want.err
    for written in ("15/12/2026 06:00", "06:00 ngày 15/12/2026", "2026-12-15 06:00", "6h00 15/12/2026"):
        r = project.run("next", "--json", "--from", written, "--days", "1")
        assert r.code == 0 and r.out == want.out, (written, r.err)
    r = project.run("next", "--from", "25:00 ngày 15/12/2026")
    assert r.code == 2 and "Traceback" not in r.err, r.err


def test_the_last_good_configuration_never_brings_back_a_programme_it_did_not_run_with(project):
    """A station kept a configuration with its hub's programme, then ran one without (the programme removed):
    the kept programme goes too, so the last good configuration is the one that ran."""
    from datetime import datetime, timezone
    from broadcaster.config import load_config
    from broadcaster.config.lastgood import keep, last_good
    from tests.conftest import BASE_CONFIG
    project.write("schedule.toml", BASE_CONFIG + '[zones.xa]\nname = "Xã"\n')
    cfg = load_config(project.root / "schedule.toml")
    kept = project.root / "state" / "last-good"
    kept.mkdir(parents=True)
    (kept / "programme.toml").write_text("# a programme an earlier configuration ran with\n", encoding="utf-8")
    keep(cfg, datetime.now(timezone.utc))
    assert not (kept / "programme.toml").exists()
    assert last_good(project.root / "schedule.toml").cfg.zones.keys() == {"xa"}
