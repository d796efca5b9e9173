"""The JSON API with bearer tokens (issue 31), over HTTP against a real `broadcaster web`: tokens hashed at
rest and shown once, the same rights and places as the pages, and a play that a real daemon airs."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import httpx
import pytest

from tests.console import ConsoleServer, add_user


def token(root, name: str, role: str, *places: str) -> str:
    args = ["--places", ",".join(places)] if places else []
    r = subprocess.run([sys.executable, "-m", "broadcaster", "token", "add", name, "--role", role, *args], cwd=root,
                       capture_output=True, text=True, env={**os.environ, "LANG": "C.UTF-8"})
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


@pytest.mark.audio
def test_a_program_reads_and_plays_through_the_api_within_its_rights_and_places(station, tmp_path):
    station.configure([("a", ["za"], 3600, "normal")], extra=lambda when: ["[groups]", 'ben = ["za"]'])
    station.build()
    root = station.root
    province = token(root, "tinh", "technician", "group:ben")
    reader = token(root, "bao-cao", "viewer")
    add_user(root, "an", "admin")   # the console needs one person's account to start
    with sqlite3.connect(root / "state" / "accounts.sqlite3") as db:   # kept as hashes only
        stored = " ".join(str(v) for row in db.execute("SELECT * FROM tokens") for v in row)
    assert province not in stored and reader not in stored
    station.record("zone_a")
    station.start()
    console = ConsoleServer(root, tmp_path / "web.log", env=station.pulse.env)
    try:
        api = httpx.Client(base_url=console.url + "/api/v1", timeout=30, headers={"Accept-Language": "en"})

        def call(method: str, path: str, secret: str | None, **kw) -> httpx.Response:
            return api.request(method, path, headers={"Authorization": f"Bearer {secret}"} if secret else {}, **kw)
        r = call("GET", "/zones", reader)
        assert r.status_code == 200 and {z["id"] for z in r.json()["zones"]} == {"za", "zb"}
        assert r.json()["groups"] == {"ben": ["za"]}
        assert call("GET", "/status", reader).json()["zones"][0]["served"] is True
        assert call("GET", "/zones", "bct_wrong").status_code == 401
        assert call("GET", "/zones", None).status_code == 303            # no token, no session: the log-in page
        r = httpx.get(console.url + "/", headers={"Authorization": f"Bearer {reader}"})
        assert r.status_code == 401                                      # a token opens the API only
        # a viewer may not play; the province's technician only within its places
        assert call("POST", "/play", reader, json={"bulletin": "b", "zones": ["za"]}).status_code == 403
        r = call("POST", "/play", province, json={"bulletin": "b", "zones": ["zb"]})
        assert r.status_code == 403 and "may play only on group:ben" in r.json()["error"]
        assert call("POST", "/play", province, json=[1]).status_code == 400
        assert call("POST", "/play", province, json={"bulletin": "nope", "zones": ["za"]}).status_code == 400
        r = call("POST", "/play", province, json={"bulletin": "b", "groups": ["ben"], "priority": "priority"})
        assert r.status_code == 202, r.text
        [req] = r.json()["requests"]
        assert req["zone"] == "za"
        import time
        deadline = time.time() + 30
        while not any(x["bulletin"] == "b" and x["status"] == "played" for x in call("GET", "/log", reader).json()):
            assert time.time() < deadline, station.daemon_log()[-2000:]
            time.sleep(0.5)
        assert [x["bulletin"] for x in call("GET", "/next?days=1", reader).json()] == ["a"]
        assert call("GET", "/next?days=abc", reader).status_code == 400
    finally:
        console.stop()
    assert station.stop() == 0
    from tests.pulse import tone_onsets
    from tests.station import FREQS
    assert tone_onsets(station.recorders.pop("zone_a").stop(), FREQS["b"])   # it reached zone A's loudspeakers
    from broadcaster.records.accounts import Accounts
    a = Accounts(root / "state")
    try:
        trail = a.trail()
    finally:
        a.close()
    assert any(u == "token:tinh" and act == "play" for _t, u, _a, act, _d in trail)
    assert any(u == "token:tinh" and act == "refused" for _t, u, _a, act, _d in trail)


def test_a_new_announcement_with_its_schedule_through_the_api(tmp_path):
    """Created with curl-like calls: the script and the slot are written, schedule.toml keeps its comments,
    `next --json` shows it, the excepted date has no airing; a bad one is refused per field, nothing written."""
    from tests.test_places import PLACES
    from tests.test_web_hardening import make_project
    root = make_project(tmp_path / "project", PLACES)
    editor = token(root, "tinh-bt", "editor")
    before = (root / "schedule.toml").read_text(encoding="utf-8")
    server = ConsoleServer(root, tmp_path / "web.log")
    try:
        post = lambda body: httpx.post(server.url + "/api/v1/bulletins", json=body, timeout=30,  # noqa: E731
                                       headers={"Authorization": f"Bearer {editor}", "Accept-Language": "en"})
        r = post({"title": "Lịch tiêm phòng đợt 2", "text": "Kính thưa bà con.\nLúc 7h30 ngày 9/12/2026 tiêm phòng.",
                  "times": ["17:00", "05:30"], "days": ["mon", "tue", "wed", "thu", "fri"], "start": "2026-12-07",
                  "end": "2026-12-11", "except": ["2026-12-09"], "groups": ["song"], "priority": "priority"})
        assert r.status_code == 201, r.text
        assert r.json()["id"] == "lich-tiem-phong-dot-2"
        r = post({"title": "", "text": "x", "times": ["25:00"], "zones": ["cum_9"], "start": "2026-13-01"})
        assert r.status_code == 400
        fields = r.json()["fields"]
        assert {"title", "times", "zones", "start"} <= set(fields) and "cum_9" in fields["zones"]
        assert post({"title": "Lịch tiêm phòng đợt 2", "text": "x", "times": ["05:30"], "zones": ["cum_1"]}
                    ).json()["fields"]["id"].startswith('there is already a bulletin "lich-tiem-phong-dot-2"')
    finally:
        server.stop()
    after = (root / "schedule.toml").read_text(encoding="utf-8")
    kept = iter(after.splitlines())
    assert all(line in kept for line in before.splitlines()), after   # every line kept, in order (a subsequence)
    assert "# along the river" in after and "# the commune's clusters" in after
    assert (root / "scripts" / "lich_tiem_phong_dot_2.txt").read_text(encoding="utf-8").startswith("Kính thưa")
    assert len(list((root / "scripts").glob("*.txt"))) == 2   # the refused ones wrote nothing
    r = subprocess.run([sys.executable, "-m", "broadcaster", "next", "--json", "--from", "2026-12-06", "--days", "7"],
                       cwd=root, capture_output=True, text=True)
    import json
    mine = sorted((a["time"][:16], a["zone"]) for a in json.loads(r.stdout) if a["bulletin"] == "lich-tiem-phong-dot-2")
    days = sorted({t[:10] for t, _z in mine})
    assert days == ["2026-12-07", "2026-12-08", "2026-12-10", "2026-12-11"]   # weekdays, not the 9th
    assert {z for _t, z in mine} == {"cum_1", "cum_2"} and len(mine) == 4 * 2 * 2


def test_a_new_announcement_from_the_console_page(tmp_path):
    from tests.test_places import PLACES
    from tests.test_web_hardening import logged_in, make_project
    root = make_project(tmp_path / "project", PLACES)
    server = ConsoleServer(root, tmp_path / "web.log")
    try:
        c = logged_in(server, "binh")   # an editor
        page = c.get("/compose").text
        assert 'value="group:song"' in page and 'id="reading"' in page
        token_ = c.csrf("/compose")
        r = c.post("/compose", data={"csrf": token_, "title": "Họp dân", "text": "Mời bà con đi họp.", "times": "7:00",
                                     "days": ["sat"], "except": "2026-12-12, tomorrow", "place": ["nowhere"]})
        assert r.status_code == 400
        assert 'data-field="zones"' in r.text and 'data-field="except"' in r.text and "Họp dân" in r.text
        assert len(list((root / "scripts").glob("*.txt"))) == 1
        r = c.post("/compose", data={"csrf": token_, "title": "Họp dân", "text": "Mời bà con đi họp.", "times": "7:00",
                                     "days": ["sat"], "except": "2026-12-12", "place": ["group:song", "cum_3"],
                                     "priority": "normal"})
        assert r.status_code == 303 and r.headers["location"] == "/scripts/hop_dan.txt?saved=1", r.text
        assert c.get("/compose").status_code == 200
        viewer = logged_in(server, "em")
        assert viewer.get("/compose").status_code == 403
    finally:
        server.stop()
    from broadcaster.config import load_config
    cfg = load_config(root / "schedule.toml")
    slot = next(s for s in cfg.slots if s.bulletin == "hop-dan")
    assert slot.zones == ("cum_1", "cum_2", "cum_3") and slot.days == "sat" and [str(d) for d in slot.exceptions] == [
        "2026-12-12"] and [t.strftime("%H:%M") for t in slot.at] == ["07:00"]


def test_the_compose_page_shows_the_coming_airings_before_saving(tmp_path):
    """"Every Saturday at 7:00, not the first one": the page lists the airings of the next 14 days, holidays
    and exceptions applied, and writes nothing."""
    import re
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo
    from tests.test_places import PLACES
    from tests.test_web_hardening import logged_in, make_project
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    saturdays = [today + timedelta(days=d) for d in range(1, 15) if (today + timedelta(days=d)).weekday() == 5]
    root = make_project(tmp_path / "project", PLACES.replace("[groups]", f'[calendar]\nskip = ["{saturdays[1]}"]\n\n[groups]'))
    before = (root / "schedule.toml").read_text(encoding="utf-8")
    server = ConsoleServer(root, tmp_path / "web.log")
    try:
        c = logged_in(server, "binh")
        r = c.post("/compose", data={"csrf": c.csrf("/compose"), "title": "Họp dân", "text": "Mời bà con đi họp.",
                                     "times": "7:00", "days": ["sat"], "except": str(saturdays[0]),
                                     "place": ["group:song"], "priority": "normal", "action": "preview"})
        assert r.status_code == 200, r.text
        rows = re.findall(r"<tr><td>([^<]+)</td><td>(\d\d:\d\d)</td><td>(\d+) ", r.text)
        # the first Saturday is excepted, the second is a holiday: none in 14 days, and it says so
        assert rows == [] and "No airing in the next 14 days." in r.text
        r = c.post("/compose", data={"csrf": c.csrf("/compose"), "title": "Họp dân", "text": "Mời bà con đi họp.",
                                     "times": "7:00", "days": ["sat"], "place": ["group:song"], "action": "preview"})
        rows = re.findall(r"<tr><td>([^<]+)</td><td>(\d\d:\d\d)</td><td>(\d+) ", r.text)
        assert [(t, n) for _d, t, n in rows] == [("07:00", "2")] and saturdays[0].strftime("%Y-%m-%d") in r.text
    finally:
        server.stop()
    assert (root / "schedule.toml").read_text(encoding="utf-8") == before
    assert len(list((root / "scripts").glob("*.txt"))) == 1


def test_compose_once_monthly_every_other_week_a_recording_and_a_voice(tmp_path):
    """The repetitions an officer asks for (once; the 2nd Sunday; every other Tuesday), a recording
    uploaded instead of a text, a voice chosen; a file that is not audio is refused beside its field."""
    import io
    import numpy as np
    import soundfile as sf
    from tests.test_places import PLACES
    from tests.test_web_hardening import logged_in, make_project
    root = make_project(tmp_path / "project", PLACES)
    wav = io.BytesIO()
    sf.write(wav, 0.2 * np.sin(np.arange(16000) * 2 * np.pi * 440 / 16000), 16000, format="WAV")
    server = ConsoleServer(root, tmp_path / "web.log")
    base = {"text": "Mời bà con đi họp.", "times": "7:00", "place": ["cum_1"], "priority": "normal"}
    try:
        c = logged_in(server, "binh")
        page = c.get("/compose").text
        assert 'name="repeat" value="monthly"' in page and 'name="recording"' in page and 'name="engine"' in page
        send = lambda **kw: c.post("/compose", data={"csrf": c.csrf("/compose"), **base, **kw})  # noqa: E731
        assert send(title="Họp tháng", repeat="monthly", nth="2nd", weekday="sun").status_code == 303
        assert send(title="Vệ sinh", repeat="weekly", days=["tue"], weeks="2", start="2026-12-08",
                    engine="espeak").status_code == 303
        assert send(title="Thôn 1 họp", repeat="once", once="2026-12-22", place=["village:Thôn 1"]).status_code == 303
        assert 'value="village:Thôn 1"' in c.get("/compose").text   # targets by village (play, emergency too)
        r = send(title="Vệ sinh 2", repeat="weekly", days=["tue"], weeks="2")   # no first day to count from
        assert r.status_code == 400 and 'data-field="dates"' in r.text
        r = c.post("/compose", data={"csrf": c.csrf("/compose"), **base, "text": "", "title": "Lời chủ tịch",
                                     "repeat": "once", "once": "2026-12-20"},
                   files={"recording": ("loi-chu-tich.wav", wav.getvalue(), "audio/wav")})
        assert r.status_code == 303 and r.headers["location"] == "/bulletins", r.text
        r = c.post("/compose", data={"csrf": c.csrf("/compose"), **base, "text": "", "title": "Giả",
                                     "repeat": "once", "once": "2026-12-21"},
                   files={"recording": ("gia.mp3", b"<html>not audio</html>", "audio/mpeg")})
        assert r.status_code == 400 and 'data-field="recording"' in r.text
    finally:
        server.stop()
    from broadcaster.config import load_config
    cfg = load_config(root / "schedule.toml")
    slots = {s.bulletin: s for s in cfg.slots}
    assert slots["hop-thang"].monthly == "2nd sun" and slots["hop-thang"].days is None
    assert (slots["ve-sinh"].weeks, slots["ve-sinh"].days, str(slots["ve-sinh"].start)) == (2, "tue", "2026-12-08")
    assert cfg.bulletins["ve-sinh"].tts.engines == ("espeak",)
    once = slots["loi-chu-tich"]
    assert (str(once.start), str(once.end)) == ("2026-12-20", "2026-12-20")
    assert cfg.bulletins["loi-chu-tich"].file == root / "recordings" / "loi-chu-tich.wav"
    assert cfg.bulletins["loi-chu-tich"].file.read_bytes() == wav.getvalue()
    assert slots["thon-1-hop"].zones == ("cum_1",)   # the village's clusters
    assert "gia" not in cfg.bulletins and not (root / "recordings" / "gia.mp3").exists()


def test_the_week_view_shows_clusters_with_the_same_airings_as_one_bar(tmp_path):
    """150 clusters under one programme are one bar per day, not 150; a cluster with airings of its own
    keeps its own bar."""
    import re
    from tests.test_places import PLACES
    from tests.test_web_hardening import logged_in, make_project
    root = make_project(tmp_path / "project", PLACES + '[[slots]]\nbulletin = "thong-bao"\nzones = ["cum_3"]\n'
                                                       'at = ["12:00"]\n')
    server = ConsoleServer(root, tmp_path / "web.log")
    try:
        page = logged_in(server, "an").get("/schedule?days=7").text
    finally:
        server.stop()
    labels = re.findall(r'<div class="label">(?:<span title="([^"]*)">)?([^<]+)', page)
    assert labels.count(("Cụm loa thôn 1, Cụm loa thôn 2", "Cụm loa thôn 1 and 1 more")) == 7, labels
    assert labels.count(("", "Cụm loa bến đò")) == 7 and len(labels) == 7 * 2, labels
    assert page.count(">Cụm loa thôn 1 and 1 more</td>") == 7   # the table lists the pair once per airing


def test_one_airing_moved_or_cancelled_and_a_holiday_from_the_schedule_page(tmp_path):
    """"This Tuesday at 17:30, not 17:00"; "not that day"; a public holiday: written as [[changes]] and
    [calendar] skip (comments kept), followed by `next`; an account limited to a village changes only
    its own clusters' airing; what names no airing is refused and writes nothing."""
    import json
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo
    from tests.test_places import PLACES
    from tests.console import PASSWORD
    from tests.test_web_hardening import logged_in, make_project
    root = make_project(tmp_path / "project", PLACES)
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    d1, d2, d3 = (today + timedelta(days=n) for n in (2, 3, 4))
    r = subprocess.run([sys.executable, "-m", "broadcaster", "user", "add", "thon1", "--role", "editor",
                        "--places", "cum_1"], cwd=root, input=f"{PASSWORD}\n{PASSWORD}\n",
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    server = ConsoleServer(root, tmp_path / "web.log")
    try:
        c = logged_in(server, "an")
        page = c.get("/schedule?days=7").text
        assert f'name="at" value="{d1}T05:30:00"' in page and 'name="holiday"' in page
        change = lambda who, **kw: who.post("/schedule/change", data={"csrf": who.csrf("/schedule"), **kw})  # noqa
        assert change(c, bulletin="thong-bao", at=f"{d1}T05:30:00", action="move", to="06:15").status_code == 303
        assert change(c, bulletin="thong-bao", at=f"{d2}T05:30:00", action="cancel").status_code == 303
        assert change(c, holiday=str(d3)).status_code == 303
        before = (root / "schedule.toml").read_bytes()
        assert change(c, bulletin="thong-bao", at=f"{d1}T05:31:00", action="cancel").status_code == 409
        assert change(c, bulletin="thong-bao", at=f"{today + timedelta(days=6)}T05:30:00", action="move",
                      to="25:99").status_code == 400
        head = logged_in(server, "thon1")
        assert change(head, holiday=str(d1)).status_code == 403
        assert (root / "schedule.toml").read_bytes() == before
        assert change(head, bulletin="thong-bao", at=f"{today + timedelta(days=5)}T05:30:00",
                      action="cancel").status_code == 303
    finally:
        server.stop()
    text = (root / "schedule.toml").read_text(encoding="utf-8")
    assert "# along the river" in text and f'skip = ["{d3}"]' in text
    r = subprocess.run([sys.executable, "-m", "broadcaster", "next", "--json", "--from", str(d1), "--days", "5"],
                       cwd=root, capture_output=True, text=True)
    got = sorted((a["time"][:16], a["zone"]) for a in json.loads(r.stdout))
    zones = ["cum_1", "cum_2", "cum_3"]
    assert got == sorted([*((f"{d1}T06:15", z) for z in zones),                  # moved, on every cluster
                          *((f"{today + timedelta(days=5)}T05:30", z) for z in ("cum_2", "cum_3")),
                          *((f"{today + timedelta(days=6)}T05:30", z) for z in zones)]), got
