"""`broadcaster report`: figures checked against a play log with known outcomes, in CSV, JSON and HTML."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from broadcaster.records.playlog import Journal
from tests.conftest import BASE_CONFIG

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("BROADCASTER_TEST_ARTIFACTS", REPO / "test-artifacts"))

CAMPAIGN = BASE_CONFIG + """
[zones.huyen]
name = "Đài huyện"
[zones.xa]
name = "Xã Quảng An"

[[slots]]
bulletin = "thong-bao"
zones = "*"
at = ["05:30", "17:00"]
start = 2020-08-01
end = 2020-08-03
"""


def t(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2020, 8, day, hour, minute, second, tzinfo=TZ)


def aired(j: Journal, when: datetime, zone: str, status: str, *, late: float = 0.0, slot: int | None = 0,
          reason: str | None = None, seconds: float = 110.0, heard: str | None = None) -> None:
    """A row as the daemon writes it: started, then finished with its outcome."""
    start = when + timedelta(seconds=late)
    row = j.start(scheduled=when, zone=zone, bulletin="thong-bao", audio="audio_out/thong-bao.wav",
                  audio_sha256="0" * 64, priority="normal", slot=slot, request=None if slot is not None else 1,
                  started=start)
    j.measured_start(row, start + timedelta(milliseconds=late * 10), late * 10)  # as measured at the sound card
    j.finish(row, status, start + timedelta(seconds=seconds), reason)
    if heard:   # what the zone's monitor heard of it (proof of air)
        j.heard(row, heard, 840.0, 0.9, "sound stopped at 0:40 of 1:50" if heard == "partial" else None)


@pytest.fixture
def campaign(project):
    """Three days, two zones, twice a day: every outcome once, and one airing never logged."""
    project.write("schedule.toml", CAMPAIGN)
    j = Journal(project.root / "state")
    for zone in ("huyen", "xa"):
        aired(j, t(1, 5, 30), zone, "played", heard="confirmed" if zone == "huyen" else "unchecked")
        aired(j, t(1, 17), zone, "played", heard="partial" if zone == "huyen" else None)
    aired(j, t(2, 5, 30), "huyen", "played")
    aired(j, t(2, 17), "huyen", "late", late=95, reason="started 95.0 s late: the zone was busy")
    aired(j, t(2, 5, 30), "xa", "interrupted", seconds=40, reason="interrupted by the urgent khan-cap")
    j.record(scheduled=t(2, 17), zone="xa", bulletin="thong-bao", priority="normal", slot=0, status="failed",
             reason="the sound output cannot be opened")
    j.record(scheduled=t(3, 5, 30), zone="huyen", bulletin="thong-bao", priority="normal", slot=0, status="missed",
             reason="the daemon was not running")
    aired(j, t(3, 17), "huyen", "played")
    # xa at 05:30 on the 3rd: no row at all (no daemon ran, none started since)
    aired(j, t(3, 17), "xa", "played")
    aired(j, t(3, 10), "xa", "played", slot=None)  # `broadcaster play`, outside the schedule
    j.close()
    return project


EXPECTED = {  # (date, zone): scheduled, aired, played, late, interrupted, missed, failed, on_request, short
    ("2020-08-01", "huyen"): (2, 2, 2, 0, 0, 0, 0, 0, False),
    ("2020-08-01", "xa"): (2, 2, 2, 0, 0, 0, 0, 0, False),
    ("2020-08-02", "huyen"): (2, 2, 1, 1, 0, 0, 0, 0, False),
    ("2020-08-02", "xa"): (2, 0, 0, 0, 1, 0, 1, 0, True),
    ("2020-08-03", "huyen"): (2, 1, 1, 0, 0, 1, 0, 0, True),
    ("2020-08-03", "xa"): (2, 1, 1, 0, 0, 1, 0, 1, True),
}
KEYS = ("scheduled", "aired", "played", "late", "interrupted", "missed", "failed", "on_request", "short")


def test_json_figures_match_the_scenario(campaign):
    r = campaign.run("report", "--from", "2020-08-01", "--to", "03/8/2020", "-o", "bao_cao.json")
    assert r.code == 0, r.err
    assert "6 day(s)" not in r.out and "12 airings scheduled, 8 aired, 3 day(s) short" in r.out
    data = json.loads((campaign.root / "bao_cao.json").read_text(encoding="utf-8"))
    got = {(d["date"], d["zone"]): tuple(d[k] for k in KEYS) for d in data["days"]}
    assert got == EXPECTED
    totals = {d["zone"]: (d["scheduled"], d["aired"], d["missed"]) for d in data["totals"]}
    assert totals == {"huyen": (6, 5, 1), "xa": (6, 3, 1)}
    heard = {d["zone"]: (d["confirmed"], d["unconfirmed"]) for d in data["totals"]}
    assert heard == {"huyen": (1, 1), "xa": (0, 0)}   # `unchecked` (no monitor input) counts as neither
    r = campaign.run("log")
    assert "[confirmed, heard 840 ms later]" in r.out and "[partly heard, heard 840 ms later, sound stopped at 0:40" in r.out
    assert [(s["date"], s["zone"]) for s in data["short_days"]] == [
        ("2020-08-02", "xa"), ("2020-08-03", "huyen"), ("2020-08-03", "xa")]


def test_filters_and_the_default_period(campaign):
    r = campaign.run("report", "--zone", "xa", "--to", "2020-08-02", "-o", "xa.json")
    assert r.code == 0, r.err
    data = json.loads((campaign.root / "xa.json").read_text(encoding="utf-8"))
    assert data["from"] == "2020-08-01"  # the first day in the play log
    assert {(d["date"], d["zone"]) for d in data["days"]} == {("2020-08-01", "xa"), ("2020-08-02", "xa")}
    r = campaign.run("report", "--bulletin", "khac", "-o", "x.json")
    assert r.code == 2 and 'no bulletin "khac"' in r.err and not (campaign.root / "x.json").exists()


def test_csv_opens_in_excel_with_vietnamese_headings(campaign):
    r = campaign.run("--lang", "vi", "report", "--from", "01/8/2020", "--to", "03/8/2020", "-o", "bao_cao.csv")
    assert r.code == 0 and "đã ghi bao_cao.csv" in r.out
    raw = (campaign.root / "bao_cao.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel then reads UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:5] == ["ngày", "vùng", "tên vùng", "bản tin", "tiêu đề"] and rows[0][-2:] == [
        "thiếu", "sai lệch giờ phát lớn nhất (ms)"]
    short = [r for r in rows[1:] if r[-2] == "có"]
    errors = {(r[0], r[1]): r[-1] for r in rows[1:]}
    assert errors[("02/8/2020", "huyen")] == "950" and errors[("01/8/2020", "xa")] == "0"   # the late start shows
    assert [(r[0], r[1]) for r in short] == [("02/8/2020", "xa"), ("03/8/2020", "huyen"), ("03/8/2020", "xa")]
    assert rows[4][2] == "Xã Quảng An" and rows[4][5:13] == ["2", "0", "0", "0", "1", "0", "1", "0"]


def test_bad_report_requests_are_refused_cleanly(campaign):
    for args, words in [(["-o", "r.pdf"], "must end in .csv, .html or .json"),
                        (["--from", "32/8/2020", "-o", "r.csv"], "is not a date like"),
                        (["--from", "2020-08-05", "--to", "2020-08-01", "-o", "r.csv"], "is after the last day"),
                        (["-o", "../r.csv"], "outside the project folder"),
                        (["--zone", "xaa", "-o", "r.csv"], 'did you mean "xa"')]:
        r = campaign.run("report", *args)
        assert r.code == 2 and words in r.err and "Traceback" not in r.err, (args, r.err)
    assert not list(campaign.root.glob("r.*"))


@pytest.mark.skipif(not __import__("tests.browser", fromlist=["CHROMIUM"]).CHROMIUM, reason="chromium not installed")
def test_html_report_renders_in_a_real_browser_with_its_chart(campaign):
    from PIL import Image
    from tests import browser
    r = campaign.run("--lang", "vi", "report", "--from", "2020-08-01", "--to", "2020-08-03", "-o", "bao_cao.html")
    assert r.code == 0, r.err
    page = campaign.root / "bao_cao.html"
    html = page.read_text(encoding="utf-8")
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    shown = browser.load(page, evaluate={
        "marks": "document.querySelectorAll('svg.timeline rect.airing').length",
        "charts": "[...document.querySelectorAll('svg.timeline')].map(s => s.dataset.zone)",
        "short": "document.querySelectorAll('table.short-days tr.short').length",
        "title": "document.title",
        "statuses": "[...document.querySelectorAll('rect.airing')].map(r => r.classList[1]).sort().join(',')"})
    assert shown.errors == []
    assert shown.values["charts"] == ["huyen", "xa"] and shown.values["short"] == 3
    assert shown.values["marks"] == 13  # 12 scheduled + 1 on request
    assert shown.values["statuses"] == ",".join(sorted(["played"] * 8 + ["late", "interrupted", "failed"]
                                                       + ["missed"] * 2))
    assert shown.values["title"].startswith("Báo cáo phát thanh từ 01/8/2020 đến 03/8/2020")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report.png").write_bytes(shown.screenshot)
    image = Image.open(io.BytesIO(shown.screenshot)).convert("RGB")
    colours = {c: n for n, c in image.getcolors(maxcolors=1 << 20)}
    for status, hexa in {"played": "#2e7d32", "late": "#f9a825", "interrupted": "#ef6c00", "missed": "#8e24aa",
                         "failed": "#c62828"}.items():
        rgb = tuple(int(hexa[i:i + 2], 16) for i in (1, 3, 5))
        assert colours.get(rgb, 0) > 30, f"the screenshot shows no {status} mark"
    assert image.width >= 1000 and image.height > 600


@pytest.mark.skipif(not __import__("tests.browser", fromlist=["CHROMIUM"]).CHROMIUM, reason="chromium not installed")
def test_the_browser_check_catches_a_broken_page(tmp_path):
    """The check above can fail: a page with a script error and a missing image is reported."""
    from tests import browser
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><img src="missing.png"><script>undefinedFunction();</script>'
                    '<script>console.error("bad")</script></body></html>', encoding="utf-8")
    shown = browser.load(page)
    assert any("undefinedFunction" in e for e in shown.errors)
    assert any("bad" in e for e in shown.errors)
    assert any("missing.png" in e or "ERR_FILE_NOT_FOUND" in e for e in shown.errors)
