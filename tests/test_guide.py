"""The commune's day in the console (issue 31), in headless Chromium as people use it: an editor on a
phone (390 × 844) composes a new announcement — every day at a time, except one date, on a group —
and submits it; an approver at a PC (1280 × 800) approves it; the daemon airs it at its first time on
the group's cluster only (a null sink), the excepted date has no airing in `next --json`, schedule.toml
keeps its comments, and an invalid schedule is refused with the field named and nothing written.

The screenshots of docs/huong-dan.md are taken here (test-artifacts/huong-dan/; `make guide` copies
them into docs/huong-dan/), so the guide shows the console as it is."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, Tab
from tests.console import ConsoleServer, add_user
from tests.test_web_console import ARTIFACTS, log_in

pytestmark = [pytest.mark.audio,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs it)")]
SHOTS = ARTIFACTS / "huong-dan"
GUIDE = Path(__file__).resolve().parent.parent / "docs" / "huong-dan.md"
TEXT = "Kính thưa bà con. Mời bà con thôn Bến Sông đi họp lúc 19 giờ 30 tại nhà văn hóa."
TITLES = {"a": "Bản tin sáng", "b": "Lịch tiêm phòng gia súc", "c": "Lịch cắt điện", "d": "Nhắc phòng chống lụt bão"}
VIETNAMESE = ("--lang=vi", "--accept-lang=vi-VN,vi")   # a browser in Vietnamese, as officers have


def test_compose_on_a_phone_approve_at_a_pc_and_it_airs(station, tmp_path):
    station.configure([("a", ["za", "zb"], 3600, "normal")], t0_in=0,
                      zone_keys={"za": ['name = "Cụm loa Bến Sông"', 'village = "Bến Sông"'],
                                 "zb": ['name = "Cụm loa Chợ"', 'village = "Chợ"']})
    toml = station.root / "schedule.toml"
    text = toml.read_text(encoding="utf-8")
    for b, title in TITLES.items():   # the guide's pictures show what a commune calls its bulletins
        text = text.replace(f"[bulletins.{b}]\n", f'[bulletins.{b}]\ntitle = "{title}"\n')
    toml.write_text("# Đài xã: lịch phát (a comment the console must keep)\n" + text
                    + "\n[approval]\nrequired = true\n\n[groups]\nben_song = { name = \"Ven sông\", zones = [\"za\"] }   # the riverside cluster\n",
                    encoding="utf-8")
    station.build()
    root = station.root
    for name, role in (("binh", "editor"), ("chi", "approver"), ("an", "admin"), ("dung", "technician")):
        add_user(root, name, role)
    station.record("zone_a", "zone_b")
    station.start()
    console = ConsoleServer(root, tmp_path / "web.log", env=station.pulse.env)
    now = datetime.now(timezone.utc)
    first = (now + timedelta(seconds=40)).replace(microsecond=0)   # its first airing: today, in 40 s
    tomorrow = (first + timedelta(days=1)).date()
    try:
        with Tab(width=390, height=844, args=VIETNAMESE) as phone, Tab(width=1280, height=800, args=VIETNAMESE) as pc:
            # the editor, on a phone
            phone.go(f"{console.url}/login?lang=vi")   # the guide's pictures in Vietnamese, as officers see them
            pc.go(f"{console.url}/login?lang=vi")
            phone.screenshot(SHOTS / "01-dang-nhap.png")
            log_in(phone, console.url, "binh")
            phone.go(f"{console.url}/compose")
            phone.type("#title", "Họp dân thôn Bến Sông")
            phone.type("#text", TEXT)
            phone.type("#times", first.strftime("%H:%M:%S"))
            phone.type("input[name=except]", tomorrow.isoformat())
            phone.js("document.querySelector('input[value=\"group:ben_song\"]').click()")
            assert phone.js("document.getElementById('chosen').textContent") == "1"   # 1 cluster chosen
            phone.wait_for("document.querySelector('#reading .line')?.textContent.includes('mười chín giờ')")
            phone.click("#preview")
            assert tomorrow.strftime("%d/%m") not in phone.js("document.querySelector('table.preview').innerText")
            assert phone.js("document.documentElement.scrollWidth") <= 390
            phone.screenshot(SHOTS / "03-thong-bao-moi.png")
            phone.click("#save")
            assert phone.js("location.pathname") == "/scripts/hop_dan_thon_ben_song.txt"
            phone.click("#submit")   # render it, and ask for approval
            assert "hop-dan-thon-ben-song" in toml.read_text(encoding="utf-8")

            # an invalid schedule, at a PC: refused with the field named, nothing written
            log_in(pc, console.url, "an")
            before = toml.read_bytes()
            pc.go(f"{console.url}/compose")
            pc.type("#title", "Sai giờ")
            pc.type("#text", TEXT)
            pc.type("#times", "25:00")
            pc.js("document.querySelector('input[value=\"group:ben_song\"]').click()")
            pc.click("#save")
            assert pc.js("document.querySelector('.error.field[data-field=times]')?.innerText")
            assert toml.read_bytes() == before and not (root / "scripts" / "sai_gio.txt").exists()
            assert [e for e in pc.errors if "400 (Bad Request)" not in e] == []   # the refusal, and nothing else
            pc.errors.clear()
            pc.click("header form button")   # log out

            # the approver, at a PC
            log_in(pc, console.url, "chi")
            pc.go(f"{console.url}/approval")
            assert "Bến Sông" in pc.js("document.querySelector('[data-bulletin=hop-dan-thon-ben-song]').innerText")
            pc.screenshot(SHOTS / "04-duyet.png")
            pc.click("[data-bulletin=hop-dan-thon-ben-song] button.approve")
            assert time.time() < first.timestamp() - 2, "composing and approving took longer than planned"
            pc.go(f"{console.url}/bulletins")
            assert "đã duyệt" in pc.js("document.body.innerText").lower()

            # the technician's pages for the guide: play now, an emergency, the report (phone)
            phone.click("header form button")
            log_in(phone, console.url, "dung")
            phone.screenshot(SHOTS / "02-tong-quan.png")
            phone.click("#quick a[href='/play?bulletin=a']")
            phone.screenshot(SHOTS / "05-phat-ngay.png")
            phone.go(f"{console.url}/emergency")
            phone.screenshot(SHOTS / "06-khan-cap.png")
            phone.go(f"{console.url}/report")
            phone.screenshot(SHOTS / "07-bao-cao.png")
            phone.go(f"{console.url}/schedule")
            phone.screenshot(SHOTS / "08-lich-phat.png")
            phone.go(f"{console.url}/clusters")
            assert "Cụm loa Bến Sông" in phone.js("document.body.innerText")
            phone.screenshot(SHOTS / "09-cum-loa.png")
            phone.go(f"{console.url}/bulletins")
            phone.screenshot(SHOTS / "10-ban-tin.png")
            phone.go(f"{console.url}/speak")
            phone.screenshot(SHOTS / "11-noi-truc-tiep.png")
            # the editor teaches a reading (the guide's answer to a ⚠), at the PC
            pc.click("header form button")
            log_in(pc, console.url, "binh")
            pc.go(f"{console.url}/lexicon")
            pc.type("#written", "BQL")
            pc.type("#spoken", "ban quản lý")
            pc.click("#teach")
            assert "ban quản lý" in pc.js("document.getElementById('taught').innerText")
            pc.screenshot(SHOTS / "12-cach-doc.png")
            pc.click("header form button")
            log_in(pc, console.url, "an")   # the admin's accounts
            pc.go(f"{console.url}/users")
            pc.screenshot(SHOTS / "13-tai-khoan.png")
            assert not phone.errors and not pc.errors, phone.errors + pc.errors
        station.wait_until(first.timestamp() - station.t0 + 12)
    finally:
        console.stop()
    assert station.stop() == 0
    rows = [r for r in station.log() if r["bulletin"] == "hop-dan-thon-ben-song"]
    assert [(r["zone"], r["status"], r["scheduled"][:19]) for r in rows] == [
        ("za", "played", first.strftime("%Y-%m-%dT%H:%M:%S"))], rows   # at its first time, on the group only
    heard = station.recordings()
    assert heard["zone_a"] and not heard["zone_b"], heard
    r = station.project.run("next", "--json", "--from", tomorrow.isoformat(), "--days", "2")
    days = {a["time"][:10] for a in json.loads(r.out) if a["bulletin"] == "hop-dan-thon-ben-song"}
    assert days == {(tomorrow + timedelta(days=1)).isoformat()}, days   # not on the excepted date
    after = toml.read_text(encoding="utf-8")
    kept = iter(after.splitlines())
    assert all(line in kept for line in before.decode("utf-8").splitlines())   # comments and layout kept
    assert "# the riverside cluster" in after and after.startswith("# Đài xã")


def test_the_guide_shows_the_screenshots_the_suite_takes():
    """docs/huong-dan.md names only pictures this module takes (and `make guide` copies)."""
    text = GUIDE.read_text(encoding="utf-8")
    named = re.findall(r"\]\(huong-dan/([\w-]+\.png)\)", text)
    source = Path(__file__).read_text(encoding="utf-8")
    assert named and all(f'"{n}"' in source for n in named), named
    assert all((GUIDE.parent / "huong-dan" / n).is_file() for n in named), named
