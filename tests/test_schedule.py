"""The schedule model against hand-worked cases, a brute-force oracle, and `next`/`check`."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcaster.config import load_config
from broadcaster.config.schedule import airings
from tests.conftest import BASE_CONFIG

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ZONES = """
[zones.huyen]
name = "Đài huyện"
quiet = "22:00-05:00"

[zones.xa]
name = "Đài xã"
device = "USB Audio"
volume = 0.8
"""


def config(project, slots: str, zones: str = ZONES):
    project.write("schedule.toml", BASE_CONFIG + zones + slots)
    return load_config(project.root / "schedule.toml")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


def times(found, zone=None):
    return [(a.time.strftime("%m-%d %H:%M"), a.zone) for a in found if zone is None or a.zone == zone]


def test_date_range_is_inclusive_on_both_ends(project):
    cfg = config(project, '[[slots]]\nbulletin = "thong-bao"\nzones = ["xa"]\nat = ["05:30", "17:00"]\n'
                          "start = 2020-08-05\nend = 2020-08-06\n")
    found = airings(cfg, at(2020, 8, 1), at(2020, 9, 1))
    assert times(found) == [("08-05 05:30", "xa"), ("08-05 17:00", "xa"), ("08-06 05:30", "xa"),
                            ("08-06 17:00", "xa")]


def test_slot_late_on_the_last_day_still_plays_and_midnight_belongs_to_the_next_day(project):
    cfg = config(project, '[[slots]]\nbulletin = "thong-bao"\nzones = ["xa"]\nat = ["23:59:30", "00:00"]\n'
                          "start = 2020-08-05\nend = 2020-08-05\n")
    assert times(airings(cfg, at(2020, 8, 4), at(2020, 8, 8))) == [("08-05 00:00", "xa"), ("08-05 23:59", "xa")]


def test_weekdays_and_several_zones(project):
    cfg = config(project, '[[slots]]\nbulletin = "thong-bao"\nzones = "*"\nat = ["07:00"]\ndays = "sat,sun"\n')
    found = airings(cfg, at(2020, 8, 3), at(2020, 8, 10))  # Monday to Monday
    assert times(found) == [("08-08 07:00", "huyen"), ("08-08 07:00", "xa"),
                            ("08-09 07:00", "huyen"), ("08-09 07:00", "xa")]
    assert all(a.time.utcoffset() == timedelta(hours=7) for a in found)


def test_cron_slot(project):
    cfg = config(project, '[[slots]]\nbulletin = "thong-bao"\nzones = ["xa"]\ncron = "0 7-17/4 * * mon-fri"\n'
                          "end = 2020-08-04\n")
    assert times(airings(cfg, at(2020, 8, 3, 8), at(2020, 8, 10))) == [
        ("08-03 11:00", "xa"), ("08-03 15:00", "xa"), ("08-04 07:00", "xa"), ("08-04 11:00", "xa"),
        ("08-04 15:00", "xa")]


def test_quiet_hours_hold_back_normal_and_priority_but_not_urgent(project):
    cfg = config(project, '[[slots]]\nbulletin = "thong-bao"\nzones = "*"\nat = ["04:30", "05:00"]\n'
                          '[[slots]]\nbulletin = "thong-bao"\nzones = "*"\nat = ["23:00"]\npriority = "urgent"\n')
    found = airings(cfg, at(2020, 8, 5), at(2020, 8, 6))
    assert times(found, "huyen") == [("08-05 05:00", "huyen"), ("08-05 23:00", "huyen")]
    assert times(found, "xa") == [("08-05 04:30", "xa"), ("08-05 05:00", "xa"), ("08-05 23:00", "xa")]
    held = [a for a in airings(cfg, at(2020, 8, 5), at(2020, 8, 6), include_suppressed=True) if a.suppressed]
    assert times(held) == [("08-05 04:30", "huyen")]


def test_same_moment_lists_higher_priority_first(project):
    cfg = config(project, '[[slots]]\nbulletin = "thong-bao"\nzones = ["xa"]\nat = ["08:00"]\n'
                          '[[slots]]\nbulletin = "thong-bao"\nzones = ["xa"]\nat = ["08:00"]\npriority = "priority"\n')
    assert [a.priority for a in airings(cfg, at(2020, 8, 5), at(2020, 8, 6))] == ["priority", "normal"]


WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@settings(max_examples=40, deadline=None)
@given(hours=st.lists(st.tuples(st.integers(0, 23), st.integers(0, 59)), min_size=1, max_size=3, unique=True),
       days=st.sets(st.integers(0, 6), min_size=1),
       start=st.integers(0, 20), length=st.integers(0, 20), window=st.integers(0, 30))
def test_airings_agree_with_a_brute_force_calendar(tmp_path_factory, hours, days, start, length, window):
    root = tmp_path_factory.mktemp("p")
    (root / "scripts").mkdir()
    (root / "scripts" / "thong_bao.txt").write_text("Xin chào.", encoding="utf-8")
    first = date(2020, 8, 1) + timedelta(days=start)
    last = first + timedelta(days=length)
    at_list = ", ".join(f'"{h:02d}:{m:02d}"' for h, m in hours)
    day_list = ",".join(WEEKDAYS[d] for d in sorted(days))
    (root / "schedule.toml").write_text(BASE_CONFIG + ZONES.replace('quiet = "22:00-05:00"', "") +
                                        f'[[slots]]\nbulletin = "thong-bao"\nzones = ["xa"]\nat = [{at_list}]\n'
                                        f'days = "{day_list}"\nstart = {first}\nend = {last}\n', encoding="utf-8")
    cfg = load_config(root / "schedule.toml")
    t0 = at(2020, 8, 1) + timedelta(days=window, hours=7)
    t1 = t0 + timedelta(days=25)
    expected = sorted(
        datetime.combine(d, time(h, m), TZ)
        for d in (date(2020, 7, 25) + timedelta(days=i) for i in range(80))
        if first <= d <= last and d.weekday() in days
        for h, m in hours if t0 <= datetime.combine(d, time(h, m), TZ) < t1)
    assert [a.time for a in airings(cfg, t0, t1)] == expected


# --- mistakes in zones and slots: exact messages and lines ------------------------

SLOT_MISTAKES = {
    "undefined bulletin": ('bulletin = "thong-boa"\nzones = ["xa"]\nat = ["05:30"]', "bulletin",
                           'bulletin "thong-boa" is not defined (did you mean "thong-bao"?)'),
    "undefined zone": ('bulletin = "thong-bao"\nzones = ["xaa"]\nat = ["05:30"]', "zones",
                       'zone "xaa" is not defined (did you mean "xa"?)'),
    "bad time": ('bulletin = "thong-bao"\nzones = ["xa"]\nat = ["5h30"]', "at",
                 'at must be local times like "05:30" or "17:00:00", not "5h30"'),
    "bad cron": ('bulletin = "thong-bao"\nzones = ["xa"]\ncron = "0 25 * * *"', "cron",
                 'cron "0 25 * * *" is not valid: Error validating expression \'25\': the last value (25) '
                 "is higher than the maximum value (23)"),
    "short cron": ('bulletin = "thong-bao"\nzones = ["xa"]\ncron = "0 7 * *"', "cron",
                   'cron "0 7 * *" is not valid: it needs 5 fields: minute hour day month weekday'),
    "bad days": ('bulletin = "thong-bao"\nzones = ["xa"]\nat = ["05:30"]\ndays = "mon-fry"', "days",
                 'days "mon-fry" is not valid: Invalid weekday name "fry" (use e.g. "mon-fri" or "sat,sun")'),
    "reversed dates": ('bulletin = "thong-bao"\nzones = ["xa"]\nat = ["05:30"]\nstart = 2020-08-31\n'
                       "end = 2020-08-05", "end", "end 2020-08-05 is before start 2020-08-31 (the dates are reversed)"),
    "both at and cron": ('bulletin = "thong-bao"\nzones = ["xa"]\nat = ["05:30"]\ncron = "0 7 * * *"', "cron",
                         "has both at and cron: use one of them"),
    "bad priority": ('bulletin = "thong-bao"\nzones = ["xa"]\nat = ["05:30"]\npriority = "high"', "priority",
                     'priority must be one of normal, priority, urgent, not "high"'),
}


@pytest.mark.parametrize("case", sorted(SLOT_MISTAKES))
def test_slot_mistakes_name_the_line_and_key(project, case):
    body, key, message = SLOT_MISTAKES[case]
    text = BASE_CONFIG + ZONES + "[[slots]]\n" + body + "\n"
    project.write("schedule.toml", text)
    lines = text.splitlines()
    line = next(i for i, ln in enumerate(lines, 1) if ln.startswith(f"{key} ="))
    r = project.run("check")
    assert r.code == 2
    assert r.err.strip() == f"error: schedule.toml:{line}: slots[1]: {message}"


def test_zone_mistakes(project):
    project.write("schedule.toml", BASE_CONFIG + '[zones.xa]\nvolume = 1.5\nquiet = "22h-5h"\ndevce = "x"\n')
    r = project.run("check")
    assert r.code == 2
    n = len(BASE_CONFIG.splitlines())  # [zones.xa] is the next line
    assert r.err.splitlines() == [
        f"error: schedule.toml:{n + 4}: zones.xa: unknown key \"devce\" (did you mean \"device\"?)",
        f"error: schedule.toml:{n + 2}: zones.xa: volume must be between 0 and 1, not 1.5",
        f'error: schedule.toml:{n + 3}: zones.xa: quiet must be a time range like "22:00-05:00", not "22h-5h"']


def test_toml_syntax_error_in_check_gives_line_and_column(project):
    project.write("schedule.toml", BASE_CONFIG + "[[slots]\n")
    r = project.run("check")
    line = len(BASE_CONFIG.splitlines()) + 1
    assert r.code == 2 and r.err.startswith(f"error: schedule.toml:{line}: TOML syntax error:") and "(column " in r.err


# --- check: warnings -------------------------------------------------------------

def test_check_warns_about_past_slots_quiet_hours_and_overlaps_and_strict_fails(project):
    slots = ('[[slots]]\nbulletin = "thong-bao"\nzones = ["xa"]\nat = ["05:30"]\nend = 2020-08-31\n'
             '[[slots]]\nbulletin = "thong-bao"\nzones = ["huyen"]\nat = ["04:00"]\n'
             '[[slots]]\nbulletin = "thong-bao"\nzones = ["xa"]\nat = ["08:00"]\n'
             '[[slots]]\nbulletin = "thong-bao"\nzones = "*"\nat = ["08:00:02"]\n')
    project.write("schedule.toml", BASE_CONFIG + ZONES + slots)
    assert project.run("build").code == 0  # rendered: check knows the bulletin lasts several seconds
    r = project.run("check")
    assert r.code == 0, r.err
    lines = (BASE_CONFIG + ZONES + slots).splitlines()
    slot_lines = [i for i, ln in enumerate(lines, 1) if ln == "[[slots]]"]
    end_line = lines.index("end = 2020-08-31") + 1
    err = r.err.splitlines()
    assert err[0] == (f'warning: schedule.toml:{end_line}: the slot for "thong-bao" ended on 2020-08-31: '
                      "it will not play again (change end or remove the slot)")
    assert err[1] == (f'warning: schedule.toml:{slot_lines[1]}: zone huyen: "thong-bao" at 04:00 falls in the '
                      "quiet hours 22:00-05:00 and will not play (move it, or make it urgent)")
    assert err[2].startswith(f'warning: schedule.toml:{slot_lines[2]}: zone xa: "thong-bao" and "thong-bao" '
                             f"(line {slot_lines[3]}) overlap on ")
    assert len(err) == 3
    assert "0 errors, 3 warnings" in r.out
    strict = project.run("check", "--strict")   # one form, one code (issue 38, 11): each line is said an error,
    assert strict.code == 2 and "3 errors, 0 warnings" in strict.out, strict.out   # as the sum counts it
    assert [x.split(":")[0] for x in strict.err.strip().splitlines()] == ["error"] * 3, strict.err


def test_check_clean_project(project):
    project.write("schedule.toml", BASE_CONFIG + ZONES + '[[slots]]\nbulletin = "thong-bao"\nzones = "*"\nat = ["06:00"]\n')
    project.run("build")
    r = project.run("check")
    assert r.code == 0 and r.err == "" and "no problems found (1 bulletins, 2 zones, 1 slots)" in r.out


def test_check_in_vietnamese(project, monkeypatch):
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    project.write("schedule.toml", BASE_CONFIG + ZONES)
    r = project.run("check")
    assert "cảnh báo: schedule.toml:15: bản tin \"thong-bao\" chưa được tạo âm thanh" in r.err
    assert "chưa có khung giờ [[slots]] nào" in r.err


# --- next ------------------------------------------------------------------------

def test_next_json_and_table(project):
    config(project, '[[slots]]\nbulletin = "thong-bao"\nzones = "*"\nat = ["05:30", "17:00"]\n'
                    '[[slots]]\nbulletin = "thong-bao"\nzones = ["xa"]\nat = ["23:00"]\npriority = "urgent"\n')
    r = project.run("next", "--from", "2020-08-05T06:00", "--days", "1", "--json")
    assert r.code == 0
    assert [
        {"time": "2020-08-05T17:00:00+07:00", "zone": "huyen", "bulletin": "thong-bao", "priority": "normal"},
        {"time": "2020-08-05T17:00:00+07:00", "zone": "xa", "bulletin": "thong-bao", "priority": "normal"},
        {"time": "2020-08-05T23:00:00+07:00", "zone": "xa", "bulletin": "thong-bao", "priority": "urgent"},
        {"time": "2020-08-06T05:30:00+07:00", "zone": "huyen", "bulletin": "thong-bao", "priority": "normal"},
        {"time": "2020-08-06T05:30:00+07:00", "zone": "xa", "bulletin": "thong-bao", "priority": "normal"}] == [
        {k: v for k, v in a.items() if k != "origin"} for a in json.loads(r.out)]
    assert {a["origin"] for a in json.loads(r.out)} == {"local"}   # a station's own, not the district's
    r = project.run("next", "--from", "2020-08-05T06:00", "--zone", "huyen")
    lines = r.out.splitlines()
    assert lines[0].split() == ["time", "zone", "bulletin", "title", "priority", "duration"]
    assert lines[1].startswith("2020-08-05 17:00  huyen  thong-bao  Thông báo thử") and lines[1].endswith("-")
    assert len(lines) == 3
    project.run("build")
    assert not project.run("next", "--from", "2020-08-05T06:00", "--zone", "huyen").out.splitlines()[1].endswith("-")


def test_next_rejects_unknown_zone_and_bad_date(project):
    config(project, '[[slots]]\nbulletin = "thong-bao"\nzones = "*"\nat = ["05:30"]\n')
    r = project.run("next", "--zone", "hyuen")
    assert r.code == 2 and 'no zone "hyuen"' in r.err and 'did you mean "huyen"' in r.err
    r = project.run("next", "--from", "hôm qua")
    assert r.code == 2 and "is not a date and time" in r.err


@settings(max_examples=30, deadline=None)
@given(minute=st.integers(0, 59), hours=st.sampled_from(["7", "6-18/3", "5,17", "*/5"]),
       dow=st.sampled_from(["*", "mon-fri", "sat,sun", "tue"]), dom=st.sampled_from(["*", "1-10"]),
       window=st.integers(0, 40), days=st.integers(1, 40))
def test_cron_airings_agree_with_the_trigger_asked_every_time(tmp_path_factory, minute, hours, dow, dom, window,
                                                             days):
    """The weekly shortcut gives exactly what APScheduler's trigger gives when asked for each fire."""
    from apscheduler.triggers.cron import CronTrigger
    from broadcaster.config.schedule import fire_times
    root = tmp_path_factory.mktemp("p")
    (root / "scripts").mkdir()
    (root / "scripts" / "thong_bao.txt").write_text("Xin chào.", encoding="utf-8")
    line = f"{minute} {hours} {dom} * {dow}"
    (root / "schedule.toml").write_text(BASE_CONFIG + ZONES + f'[[slots]]\nbulletin = "thong-bao"\nzones = ["xa"]\n'
                                        f'cron = "{line}"\n', encoding="utf-8")
    cfg = load_config(root / "schedule.toml")
    t0 = at(2020, 8, 1, 3) + timedelta(days=window)
    t1 = t0 + timedelta(days=days)
    m, h, d, mo, w = line.split()
    expected = fire_times(CronTrigger(minute=m, hour=h, day=d, month=mo, day_of_week=w, timezone=TZ), t0, t1)
    assert [a.time for a in airings(cfg, t0, t1)] == expected
