"""Exceptions to the schedule (issue 31): holidays with no normal airings, a slot's except dates, one
airing moved or cancelled without touching its slot; next, check and the daemon all follow them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import BASE_CONFIG

CALENDAR = BASE_CONFIG + """
[zones.xa]
name = "Xã A"

[calendar]
skip = ["2026-09-02"]             # Quốc khánh

[[slots]]                         # every day at 05:30 and 17:00
bulletin = "thong-bao"
zones = ["xa"]
at = ["05:30", "17:00"]
except = [2026-09-05]

[[slots]]                         # an urgent reminder airs even on the holiday
bulletin = "thong-bao"
zones = ["xa"]
at = ["12:00"]
priority = "urgent"

[[changes]]                       # this Tuesday at 17:30 instead of 17:00
bulletin = "thong-bao"
at = 2026-09-08T17:00:00
to = 2026-09-08T17:30:00

[[changes]]                       # not that morning
bulletin = "thong-bao"
at = 2026-09-09T05:30:00
cancel = true
"""


def coming(project, start: str, days: int = 7) -> list[tuple[str, str, str | None]]:
    r = project.run("next", "--json", "--from", start, "--days", str(days))
    assert r.code == 0, r.err
    return [(a["time"][:16], a["priority"], a.get("moved_from", "")[:16] or None) for a in json.loads(r.out)]


def test_holidays_excepted_dates_moves_and_cancels_shape_the_airings(project):
    project.write("schedule.toml", CALENDAR)
    got = coming(project, "2026-09-01", 9)
    times = [t for t, _p, _m in got]
    assert "2026-09-01T05:30" in times and "2026-09-01T17:00" in times
    assert not any(t.startswith("2026-09-02T05") or t.startswith("2026-09-02T17") for t in times)   # the holiday
    assert ("2026-09-02T12:00", "urgent", None) in got                                                # urgent airs
    assert not any(t.startswith("2026-09-05T05") or t.startswith("2026-09-05T17") for t in times)   # except
    assert "2026-09-08T17:00" not in times and ("2026-09-08T17:30", "normal", "2026-09-08T17:00") in got   # moved
    assert "2026-09-09T05:30" not in times and "2026-09-09T17:00" in times                          # cancelled
    r = project.run("next", "--from", "2026-09-08T17:10", "--days", "1")
    assert "(moved from 2026-09-08 17:00)" in r.out
    r = project.run("check")
    assert "this change changes nothing" not in r.out + r.err


def test_calendar_mistakes_are_named_with_their_line(project):
    bad = (CALENDAR.replace('skip = ["2026-09-02"]', 'skip = ["02/9/2026"]')
           .replace("to = 2026-09-08T17:30:00", "to = 2026-09-08T17:30:00\ncancel = true")
           .replace("except = [2026-09-05]", 'except = "tomorrow"'))
    project.write("schedule.toml", bad)
    r = project.run("check")
    assert r.code == 2
    assert "skip must be a list of dates like 2026-09-02" in r.err and "either moves the airing" in r.err
    assert "except must be a list of dates" in r.err and "schedule.toml:" in r.err
    project.write("schedule.toml", CALENDAR.replace("at = 2026-09-09T05:30:00", "at = 2026-09-09T05:35:00"))
    r = project.run("check")
    assert r.code == 0 and "this change changes nothing (check its at)" in r.out + r.err


@pytest.mark.audio
def test_the_daemon_plays_a_moved_airing_at_its_new_time_and_not_at_the_old(station):
    from tests.pulse import tone_onsets
    from tests.station import FREQS
    station.configure([("a", ["za"], 20, "normal"), ("b", ["za"], 4, "normal")], t0_in=8,
                      extra=lambda when: [])
    t_old = datetime.fromtimestamp(station.t0 + 20, timezone.utc)
    t_new = t_old - timedelta(seconds=12)   # 8 s after t0: 4 s after b
    station.project.write("schedule.toml", station.project.read("schedule.toml") + (
        f'[[changes]]\nbulletin = "a"\nat = {t_old:%Y-%m-%dT%H:%M:%S}\nto = {t_new:%Y-%m-%dT%H:%M:%S}\n'))
    station.build()
    station.record("zone_a")
    station.start()
    station.wait_until(23)
    assert station.stop() == 0
    x = station.recorders.pop("zone_a").stop()
    [b_on] = tone_onsets(x, FREQS["b"])
    a_on = tone_onsets(x, FREQS["a"])
    # a opens with its tone 4 s after b (speech may hold 440 Hz here and there: only the onsets count)
    assert any(abs(t - b_on - 4.0) < 0.05 for t in a_on), (a_on, b_on)
    assert not any(t - b_on > 12 for t in a_on), (a_on, b_on)   # nothing at the old time (b + 16 s)
    assert [r["bulletin"] for r in station.log()].count("a") == 1
    rows = {r["bulletin"]: r for r in station.log()}
    assert rows["a"]["status"] == "played" and rows["a"]["scheduled"].startswith(t_new.strftime("%Y-%m-%dT%H:%M:%S"))


RECURRING = BASE_CONFIG + """
[zones.xa]
name = "Xã A"

[[slots]]                         # once: the 8th at 17:30
bulletin = "thong-bao"
zones = ["xa"]
at = ["17:30"]
start = 2026-12-08
end = 2026-12-08

[[slots]]                         # every other Wednesday from the 9th
bulletin = "thong-bao"
zones = ["xa"]
at = ["06:00"]
days = "wed"
weeks = 2
start = 2026-12-09

[[slots]]                         # the last Friday of the month
bulletin = "thong-bao"
zones = ["xa"]
at = ["19:00"]
monthly = "last fri"
"""


def test_once_every_n_weeks_and_the_nth_weekday_of_the_month(project):
    project.write("schedule.toml", RECURRING)
    times = [t for t, _p, _m in coming(project, "2026-12-01", 62)]
    assert [t for t in times if t.endswith("17:30")] == ["2026-12-08T17:30"]
    assert [t for t in times if t.endswith("06:00")] == ["2026-12-09T06:00", "2026-12-23T06:00", "2027-01-06T06:00",
                                                         "2027-01-20T06:00"]
    assert [t for t in times if t.endswith("19:00")] == ["2026-12-25T19:00", "2027-01-29T19:00"]


def test_recurrence_mistakes_say_what_to_write(project):
    project.write("schedule.toml", RECURRING.replace("start = 2026-12-09\n", "")
                  .replace('monthly = "last fri"', 'monthly = "last fri"\ndays = "fri"'))
    r = project.run("check")
    assert r.code == 2
    assert "every 2 weeks counts from a first day: add start =" in r.err, r.err
    assert "monthly names the day of the month" in r.err and "schedule.toml:" in r.err
    project.write("schedule.toml", RECURRING.replace('"last fri"', '"3rd friday-ish"').replace("weeks = 2", "weeks = 0"))
    r = project.run("check")
    assert r.code == 2 and 'monthly "3rd friday-ish" is not valid' in r.err and "weeks must be a whole number" in r.err
