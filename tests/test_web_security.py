"""The console is a way to put sound on public loudspeakers: who may do what, checked over HTTP
against a real `broadcaster web`."""

from __future__ import annotations

import pytest

from tests.conftest import BASE_CONFIG
from tests.console import ConsoleServer, add_user


@pytest.fixture
def console(project, tmp_path):
    project.write("schedule.toml", BASE_CONFIG + '[zones.xa]\nname = "Xã A"\n[approval]\nrequired = true\n')
    for name, role in (("an", "admin"), ("binh", "editor"), ("chi", "approver"), ("dung", "technician"),
                       ("em", "viewer")):
        add_user(project.root, name, role)
    server = ConsoleServer(project.root, tmp_path / "web.log")
    yield server
    server.stop()


def requests_waiting(project) -> list:
    from broadcaster.records.playlog import Journal
    j = Journal(project.root / "state")
    try:
        return j.store.read("SELECT target, zone, priority FROM requests")
    finally:
        j.close()


def audit(project) -> list[tuple]:
    from broadcaster.records.accounts import Accounts
    a = Accounts(project.root / "state")
    try:
        return a.trail()
    finally:
        a.close()


def shown_form(person) -> dict:
    """The hidden fields of the approval form as the page shows them (token and the script's hash)."""
    import re
    return dict(re.findall(r'name="(csrf|script_sha256)" value="([^"]*)"', person.get("/approval").text))


def test_without_a_session_every_page_sends_to_the_login_and_health_answers(console):
    c = console.client()
    for page in ("/", "/schedule", "/bulletins", "/play", "/log", "/log.csv", "/users", "/approval",
                 "/scripts/thong_bao.txt", "/audio/thong-bao"):
        r = c.get(page)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), (page, r.status_code)
    assert c.post("/play", data={"zone": "xa"}).status_code == 403   # no session, no token: refused first
    assert c.get("/health").text == "ok"


def test_vietnamese_by_default_english_when_the_browser_asks(console):
    import httpx
    assert "Đăng nhập" in httpx.get(console.url + "/login").text
    assert "Log in" in httpx.get(console.url + "/login", headers={"Accept-Language": "en-US,en"}).text
    assert "Đăng nhập" in httpx.get(console.url + "/login", headers={"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.8"}).text


def test_the_session_cookie_is_httponly_and_strict(console):
    c = console.client()
    r = c.login("em")
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie   # plain http here
    assert c.get("/").status_code == 200


def test_a_viewer_may_look_but_not_play_and_nothing_is_queued(console, project):
    c = console.client()
    c.login("em")
    assert c.get("/log").status_code == 200
    r = c.post("/play", data={"csrf": c.csrf("/"), "bulletin": "thong-bao", "zone": "xa", "priority": "urgent",
                              "confirmed": "yes"})
    assert r.status_code == 403 and "may not" in r.text
    assert requests_waiting(project) == []
    assert c.get("/users").status_code == 403 and c.get("/approval").status_code == 403
    assert any(action == "refused" and user == "em" for _t, user, _a, action, _d in audit(project))


def test_a_state_change_without_the_csrf_token_is_refused(console, project):
    c = console.client()
    c.login("dung")
    r = c.post("/play", data={"bulletin": "thong-bao", "zone": "xa", "priority": "normal"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = c.post("/play", data={"csrf": "forged", "bulletin": "thong-bao", "zone": "xa", "priority": "normal"})
    assert r.status_code == 403
    assert requests_waiting(project) == []
    # with its token the request is taken up, and said plainly that no daemon serves the zone
    r = c.post("/play", data={"csrf": c.csrf("/play"), "bulletin": "thong-bao", "zone": "xa", "priority": "normal"})
    assert r.status_code == 409 and "no daemon serves xa" in r.text


def test_wrong_passwords_make_that_account_wait_at_that_address_not_the_office(console, project):
    c = console.client()
    for _ in range(3):
        r = c.login("chi", "wrong password!")
        assert r.status_code == 401 and "wrong name or password" in r.text
    r = c.login("chi")   # the right one, too soon: this account waits a few seconds at this address
    assert r.status_code == 401 and "too many failed log-ins for chi from this address: wait" in r.text
    assert " s and try again" in r.text   # says how long, in seconds
    r = console.client().login("an")   # the same address, another account: the office is not locked out
    assert r.status_code == 303
    failed = [x for x in audit(project) if x[3] == "login failed"]
    assert len(failed) >= 4


def test_an_address_that_sprays_many_accounts_is_paused(console, project):
    c = console.client()
    for name in ("an", "binh", "chi", "dung", "nobody"):
        assert c.login(name, "guessing-123!").status_code == 401
    r = console.client().login("em")   # right password, but this address tried five accounts
    assert r.status_code == 401 and "wait 15 min" in r.text


def test_script_paths_from_the_browser_stay_inside_scripts(console, project):
    c = console.client()
    c.login("binh")
    for path in ("/scripts/..%2F..%2F..%2F..%2Fetc%2Fpasswd", "/scripts/..%2Fschedule.toml",
                 "/scripts/%2Fetc%2Fpasswd", "/scripts/thong_bao.txt%00.txt"):
        r = c.get(path)
        assert r.status_code in (403, 404) and "root:" not in r.text, (path, r.status_code)
    r = c.post("/scripts/..%2Fschedule.toml", data={"csrf": c.csrf("/bulletins"), "text": "hacked"})
    assert r.status_code == 403
    assert "hacked" not in project.read("schedule.toml")


def test_nobody_approves_their_own_edit_and_only_approved_audio_airs(console, project):
    from broadcaster.config import load_config
    from broadcaster.records.accounts import Accounts
    from broadcaster.records.approval import audio_to_air
    editor = console.client()
    editor.login("an")    # an admin may edit and approve, but not both for one version
    r = editor.post("/scripts/thong_bao.txt", data={"csrf": editor.csrf("/bulletins"), "text": "Kính thưa bà con.\n",
                                                    "action": "submit"})
    assert r.status_code == 303, r.text
    r = editor.post("/approval", data={**shown_form(editor), "bulletin": "thong-bao", "decision": "approve"})
    assert r.status_code == 409 and "nobody approves their own edit" in r.text
    cfg = load_config(project.root / "schedule.toml")
    accounts = Accounts(cfg.paths.state)
    try:
        with pytest.raises(Exception, match="no approved version"):
            audio_to_air(cfg, accounts, cfg.bulletins["thong-bao"])
    finally:
        accounts.close()
    approver = console.client()
    approver.login("chi")
    r = approver.post("/approval", data={**shown_form(approver), "bulletin": "thong-bao", "decision": "approve"})
    assert r.status_code == 303
    accounts = Accounts(cfg.paths.state)
    try:
        first = audio_to_air(cfg, accounts, cfg.bulletins["thong-bao"])
        # a later edit, not approved: the approved audio keeps airing
        editor.post("/scripts/thong_bao.txt", data={"csrf": editor.csrf("/bulletins"), "text": "Nội dung khác.\n",
                                                    "action": "render"})
        assert audio_to_air(cfg, accounts, cfg.bulletins["thong-bao"]) == first
    finally:
        accounts.close()
    r = project.run("check")
    assert "changed since it was approved" in r.out + r.err
    assert any(a == "approve" and u == "chi" for _t, u, _ad, a, _d in audit(project))


@pytest.mark.audio
def test_a_new_slot_of_an_approved_bulletin_waits_for_approval_and_the_approved_one_airs(station):
    """[approval] required: a slot added after the bulletin was approved does not play (logged missed,
    saying why), the approved slot does; submitted and approved again, the new slot is covered."""
    import os
    import subprocess
    import sys
    from tests.console import PASSWORD
    from tests.pulse import tone_onsets
    from tests.station import FREQS

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "broadcaster", *args], cwd=station.root, capture_output=True,
                              text=True, input=PASSWORD + "\n", env={**os.environ, "LANG": "C.UTF-8"})
    station.configure([("a", ["za"], 0, "normal")], t0_in=14,
                      extra=lambda when: ["[approval]", "required = true"])
    station.build()
    for name, role in (("binh", "editor"), ("chi", "approver")):
        add_user(station.root, name, role)
    assert cli("submit", "a", "--user", "binh").returncode == 0
    r = cli("approve", "a", "--user", "chi")
    assert r.returncode == 0, r.stderr
    station.project.write("schedule.toml", station.project.read("schedule.toml")
                          + f'[[slots]]\nbulletin = "a"\nzones = ["za"]\nat = ["{station.when(9)}"]\n')
    r = cli("check")
    assert "a slot of it is new or changed since it was approved" in r.stdout + r.stderr, r.stdout + r.stderr
    station.record("zone_a")
    station.start()
    station.wait_until(13)
    assert station.stop() == 0
    onsets = tone_onsets(station.recorders.pop("zone_a").stop(), FREQS["a"])
    rows = sorted(station.log(), key=lambda x: x["scheduled"])
    assert [(x["bulletin"], x["status"]) for x in rows] == [("a", "played"), ("a", "missed")], rows
    assert "waits for approval" in rows[1]["reason"], rows[1]
    assert onsets and all(t - onsets[0] < 8.5 for t in onsets), onsets   # nothing 9 s after the first
    assert cli("submit", "a", "--user", "binh").returncode == 0
    assert cli("approve", "a", "--user", "chi").returncode == 0
    r = cli("check")
    assert "new or changed since it was approved" not in r.stdout + r.stderr


def test_a_recording_composed_in_the_console_airs_only_once_approved(console, project):
    import io
    import numpy as np
    import soundfile as sf
    from broadcaster.config import load_config
    from broadcaster.records.accounts import Accounts
    from broadcaster.records.approval import audio_to_air
    wav = io.BytesIO()
    sf.write(wav, 0.2 * np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000), 8000, format="WAV")
    editor = console.client()
    editor.login("binh")
    r = editor.post("/compose", data={"csrf": editor.csrf("/compose"), "title": "Lời chủ tịch", "times": "17:00",
                                      "repeat": "weekly", "days": ["mon"], "place": ["xa"]},
                    files={"recording": ("loi.wav", wav.getvalue(), "audio/wav")})
    assert r.status_code == 303, r.text
    approver = console.client()
    approver.login("chi")
    page = approver.get("/approval").text
    assert 'data-bulletin="loi-chu-tich"' in page and "17:00 · Mon · 1 zone(s)" in page
    cfg = load_config(project.root / "schedule.toml")
    accounts = Accounts(cfg.paths.state)
    try:
        with pytest.raises(Exception, match="no approved version"):
            audio_to_air(cfg, accounts, cfg.bulletins["loi-chu-tich"])
        r = approver.post("/approval", data={**shown_form(approver), "bulletin": "loi-chu-tich", "decision": "approve"})
        assert r.status_code == 303, r.text
        assert audio_to_air(cfg, accounts, cfg.bulletins["loi-chu-tich"]).read_bytes() == wav.getvalue()
    finally:
        accounts.close()
