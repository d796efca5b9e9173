"""Issue 36: inputs that silenced a station or answered 500, through the real console over HTTP and the real
command line. Every date is read in 2000-01-01..2099-12-31 (docs/configuration.md), a report covers a year
at the most, and a bulletin submitted but never approved is a warning, not a crash."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.console import ConsoleServer, add_user
from tests.test_api import token


def cli(root, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "broadcaster", *args], cwd=root, capture_output=True, text=True,
                          input=stdin, timeout=120, env={**os.environ, "LANG": "C.UTF-8", "BROADCASTER_LANG": "en"})


def site_with_an_editor_token(tmp_path):
    """A project with the places' zones, its accounts and an editor's API token, its console running: (root,
    the token, schedule.toml's bytes before, the console, an API client with the token)."""
    from tests.test_places import PLACES
    from tests.test_web_hardening import make_project
    root = make_project(tmp_path / "project", PLACES)
    editor = token(root, "tinh-bt", "editor")
    server = ConsoleServer(root, tmp_path / "web.log")
    api = httpx.Client(base_url=server.url, timeout=30,
                       headers={"Authorization": f"Bearer {editor}", "Accept-Language": "en"})
    return root, editor, (root / "schedule.toml").read_bytes(), server, api


def test_dates_outside_the_calendar_are_refused_where_they_are_read_and_nothing_answers_500(tmp_path):
    root, _editor, before, server, api = site_with_an_editor_token(tmp_path)
    try:
        base = {"title": "Tin ngày xa", "text": "Kính thưa bà con.", "times": ["05:30"], "zones": ["cum_1"]}
        for extra, field in (({"once": "0001-01-01"}, "once"), ({"start": "0001-01-01", "weeks": 3}, "start"),
                             ({"end": "9999-12-31"}, "end"), ({"except": ["1999-12-31"]}, "skip")):
            r = api.post("/api/v1/bulletins", json={**base, **extra})
            assert r.status_code == 400, (extra, r.status_code, r.text)
            assert "outside the dates broadcaster takes (2000-01-01 to 2099-12-31)" in r.json()["fields"][field], r.text
        assert (root / "schedule.toml").read_bytes() == before and not list((root / "scripts").glob("tin_*"))
        for path in ("/api/v1/next", "/api/v1/status", "/api/v1/log?since=0001-01-01"):
            r = api.get(path)
            assert r.status_code in (200, 400), (path, r.status_code, r.text)
        person = server.client()
        assert person.login("an").status_code == 303
        for q, says in (("from=9999-12-31&to=9999-12-31", "outside the dates"), ("from=0001-01-01", "outside the dates"),
                        ("from=2016-01-01&to=2026-01-01", "1 to 366 days"), ("from=2026-12-09&to=2026-12-01", "366"),
                        ("from=soon", "YYYY-MM-DD")):
            r = person.get("/report?" + q)
            assert r.status_code == 400 and says in r.text, (q, r.status_code, r.text[:300])
        r = person.get("/report?from=2026-01-01&to=2026-12-31")   # a whole year is a report
        assert r.status_code == 200, r.text[:300]
        r = person.post("/schedule/change", data={"csrf": person.csrf("/schedule"), "holiday": "0001-01-01"})
        assert r.status_code == 400 and "outside the dates" in r.text, (r.status_code, r.text[:300])
        for page in ("/", "/schedule", "/clusters"):
            assert person.get(page).status_code == 200, page
    finally:
        server.stop()
    # a date out of range written by hand: one file:line error, not a crash; the command line likewise
    text = before.decode() + '[[slots]]\nbulletin = "thong-bao"\nzones = ["cum_1"]\nat = ["05:30"]\nstart = 0001-01-01\n'
    (root / "schedule.toml").write_text(text, encoding="utf-8")
    r = cli(root, "check")
    assert r.returncode in (1, 2) and "schedule.toml:" in r.stderr + r.stdout, (r.returncode, r.stdout, r.stderr)
    assert "start 0001-01-01 is outside the dates broadcaster takes" in r.stderr + r.stdout
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    (root / "schedule.toml").write_bytes(before)
    for args in (("next", "--from", "0001-01-01"), ("next", "--from", "9999-12-31T23:00"), ("report", "--from", "01/01/0001", "-o", "r.csv")):
        r = cli(root, *args)
        assert r.returncode == 2 and "outside the dates broadcaster takes" in r.stderr, (args, r.returncode, r.stderr)


@pytest.mark.audio
def test_a_bulletin_submitted_but_never_approved_is_a_warning_and_the_station_starts(station):
    """[approval] required, a bulletin built and submitted, never approved: `check`, `status` and `next`
    answer (they crashed with AttributeError), and the daemon starts and plays the approved one."""
    from tests.console import PASSWORD
    station.configure([("a", ["za"], 3600, "normal"), ("b", ["za"], 3600, "normal")],
                      extra=lambda when: ["[approval]", "required = true"])
    station.build()
    root = station.root
    for name, role in (("bt", "editor"), ("chi", "approver")):
        add_user(root, name, role)
    assert cli(root, "submit", "a", "--user", "bt", stdin=PASSWORD + "\n").returncode == 0
    assert cli(root, "approve", "a", "--user", "chi", stdin=PASSWORD + "\n").returncode == 0
    r = cli(root, "submit", "b", "--user", "bt", stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    r = cli(root, "check")
    assert r.returncode == 0 and 'bulletin "b" has no approved version' in r.stdout + r.stderr, (r.stdout, r.stderr)
    for args in (("status",), ("next",)):
        r = cli(root, *args)
        assert r.returncode == 0 and "Traceback" not in r.stderr and "internal error" not in r.stderr, (args, r.stderr)
    station.start()   # asserts "daemon started" in its log
    assert station.stop() == 0


def test_the_console_answers_bad_requests_with_4xx_and_headers_and_says_plainly_when_it_cannot_listen(tmp_path):
    """Lone surrogates in JSON, both Transfer-Encoding and Content-Length, an editor giving an announcement the
    urgent priority: 4xx, never 500, nothing written. Every answer carries the security headers. A port taken or
    out of range: one line, exit 2, no traceback and no "The console is at"."""
    import socket
    root, editor, before, server, api = site_with_an_editor_token(tmp_path)
    try:
        body = ('{"title": "Tin \\ud800", "text": "Kính thưa bà con.", "times": ["05:30"], "zones": ["cum_1"]}')
        r = api.post("/api/v1/bulletins", content=body.encode(), headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (r.status_code, r.text)
        r = api.post("/api/v1/bulletins", json={"title": "Tin khẩn", "text": "Kính thưa bà con.", "times": ["05:30"],
                                                "zones": ["cum_1"], "priority": "urgent"})
        assert r.status_code == 403 and "may not schedule urgent airings" in r.json()["error"], r.text
        person = server.client()
        assert person.login("binh").status_code == 303   # an editor
        page = person.get("/compose").text
        assert 'value="urgent"' not in page and 'value="priority"' in page
        r = person.post("/compose", data={"csrf": person.csrf("/compose"), "title": "Tin khẩn 2", "text": "Xin chào.",
                                          "times": "05:30", "place": "cum_1", "priority": "urgent", "action": "save"})
        assert r.status_code == 403 and "may not schedule urgent airings" in r.text, (r.status_code, r.text[-500:])
        r = person.post("/reading", content='{"text": "\\udfff"}'.encode(),
                        headers={"Content-Type": "application/json", "X-CSRF-Token": person.csrf("/compose")})
        assert r.status_code == 400, (r.status_code, r.text)
        for r in (person.get("/"), api.get("/api/v1/zones"), person.get("/static/app.css"), person.get("/nowhere")):
            h = r.headers
            assert "frame-ancestors 'none'" in h["content-security-policy"] and h["x-frame-options"] == "DENY", h
            assert h["x-content-type-options"] == "nosniff" and h["referrer-policy"] == "same-origin", h
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST /api/v1/play HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n"
                      b"Authorization: Bearer " + editor.encode() + b"\r\n\r\n0\r\n\r\n")
            answer = s.recv(4096).decode(errors="replace")
        assert answer.startswith("HTTP/1.1 400"), answer
        # the port is taken by this console: a second one says so in one line
        r = cli(root, "web", "--listen", f"127.0.0.1:{port}")
        assert r.returncode == 2 and "uses that port" in r.stderr and "The console is at" not in r.stdout, r
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
        for listen in ("0.0.0.0:99999", "no.such.host.invalid:8080"):
            r = cli(root, "web", "--listen", listen)
            assert r.returncode == 2 and "Traceback" not in r.stderr and "bug" not in r.stderr, (listen, r.stderr)
            assert "The console is at" not in r.stdout, r.stdout
    finally:
        server.stop()
    assert (root / "schedule.toml").read_bytes() == before and not list((root / "scripts").glob("tin_*"))
    from broadcaster.records.accounts import Accounts
    a = Accounts(root / "state")
    try:
        assert [x[4] for x in a.trail() if x[3] == "refused"].count("new bulletin at urgent priority") == 2
    finally:
        a.close()


@pytest.mark.audio
def test_a_live_talk_ends_when_its_account_changes_and_refusals_of_places_are_audited(station, tmp_path):
    """A technician limited to za speaks live; an admin moves the account's places to zb: the talk ends at
    once (the daemon's live desk hears its end), and after logging in again the old talk's POSTs are refused,
    audited. Asking a whole station, or a holiday, from a limited account: 403 and an audit line."""
    import struct
    from tests.console import PASSWORD
    from tests.test_web_hardening import logged_in
    station.configure([], extra=lambda when: ["[groups]", 'ben = ["za"]'])
    station.build()
    root = station.root
    add_user(root, "an", "admin")
    for name, role in (("ky", "technician"), ("bt", "editor")):
        r = subprocess.run([sys.executable, "-m", "broadcaster", "user", "add", name, "--role", role, "--places", "za"],
                           cwd=root, input=f"{PASSWORD}\n{PASSWORD}\n", capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    station.start()
    console = ConsoleServer(root, tmp_path / "web.log", env=station.pulse.env)
    try:
        ky = logged_in(console, "ky")
        csrf = ky.csrf("/speak")
        r = ky.post("/speak/start", data={"csrf": csrf, "station": "s1", "zone": "za"})
        assert r.status_code == 403, r.text
        r = ky.post("/speak/start", data={"csrf": csrf, "zone": "za", "priority": "urgent"})
        assert r.status_code == 200 and r.json()["zones"] == ["za"], r.text
        sid = r.json()["sid"]
        frames = b"".join(struct.pack(">I", i) + bytes(640) for i in range(10))
        assert ky.post(f"/speak/{sid}/audio", content=frames, headers={"X-CSRF-Token": csrf}).status_code == 200
        admin = logged_in(console, "an")
        r = admin.post("/users", data={"csrf": admin.csrf("/users"), "action": "places", "name": "ky", "places": "zb"})
        assert r.status_code == 303
        deadline = time.time() + 15   # the talk's row in the play log is ended: its voice is off the air
        while not [x for x in station.log() if x["bulletin"] == "live:ky" and x["ended"]]:
            assert time.time() < deadline, station.daemon_log()[-2000:]
            time.sleep(0.3)
        ky = logged_in(console, "ky")   # logged in again, with its new places: the old talk stays ended
        r = ky.post(f"/speak/{sid}/audio", content=frames, headers={"X-CSRF-Token": ky.csrf("/speak")})
        assert r.status_code == 410, r.text
        bt = logged_in(console, "bt")   # an editor limited to za: a holiday is everywhere's
        r = bt.post("/schedule/change", data={"csrf": bt.csrf("/schedule"), "holiday": "2026-12-24"})
        assert r.status_code == 403, r.text
    finally:
        console.stop()
        assert station.stop() == 0
    from broadcaster.records.accounts import Accounts
    a = Accounts(root / "state")
    try:
        trail = [(x[1], x[3], x[4]) for x in a.trail()]
    finally:
        a.close()
    assert ("ky", "refused", "speak to stations s1") in trail, trail
    assert ("an", "speak end", "ky: account changed") in trail, trail
    assert any(u == "bt" and act == "refused" and d.startswith("holiday outside its places") for u, act, d in trail)


def test_an_urgent_slot_airs_only_when_someone_who_may_play_urgent_approved_it(tmp_path):
    """Issue 36, 8: urgent is the play right's (docs/console.md). With approval required, an urgent slot an
    approver approved is an error in check and does not air; approved by an administrator, it does."""
    from tests.console import PASSWORD
    from tests.test_web_hardening import make_project
    root = make_project(tmp_path / "project")   # [approval] required; accounts an (admin), binh (editor), chi (approver)
    text = (root / "schedule.toml").read_text(encoding="utf-8")
    (root / "schedule.toml").write_text(text + '[[slots]]\nbulletin = "thong-bao"\nzones = ["xa"]\nat = ["05:30"]\n'
                                        'priority = "urgent"\n', encoding="utf-8")
    assert cli(root, "build").returncode == 0
    assert cli(root, "submit", "thong-bao", "--user", "binh", stdin=PASSWORD + "\n").returncode == 0
    assert cli(root, "approve", "thong-bao", "--user", "chi", stdin=PASSWORD + "\n").returncode == 0
    r = cli(root, "check")
    assert r.returncode == 2 and "was approved by chi, who may not play urgent airings" in r.stderr, r.stderr
    from broadcaster.config import load_config
    from broadcaster.records.accounts import Accounts
    from broadcaster.records.approval import slot_approved
    cfg = load_config(root / "schedule.toml")
    [slot] = [s for s in cfg.slots if s.priority == "urgent"]
    a = Accounts(cfg.paths.state)
    try:
        assert not slot_approved(cfg, a, slot)   # the daemon's own test: it does not air
    finally:
        a.close()
    assert cli(root, "submit", "thong-bao", "--user", "binh", stdin=PASSWORD + "\n").returncode == 0
    assert cli(root, "approve", "thong-bao", "--user", "an", stdin=PASSWORD + "\n").returncode == 0
    r = cli(root, "check")
    assert "may not play urgent" not in r.stderr, r.stderr
    a = Accounts(cfg.paths.state)
    try:
        assert slot_approved(cfg, a, slot)
    finally:
        a.close()
