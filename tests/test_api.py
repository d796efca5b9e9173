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
    from broadcaster.station.accounts import Accounts
    a = Accounts(root / "state")
    try:
        trail = a.trail()
    finally:
        a.close()
    assert any(u == "token:tinh" and act == "play" for _t, u, _a, act, _d in trail)
    assert any(u == "token:tinh" and act == "refused" for _t, u, _a, act, _d in trail)
