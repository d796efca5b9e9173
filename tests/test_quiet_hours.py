"""Quiet hours hold on every path that plays now (issue 36, item 5; issue 41's one path): the command line
straight to the device and through the daemon, the console's Phát ngay, the API, and a command taken
from the hub above (a request the daemon takes like any other). Only an urgent airing plays then."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tests.console import ConsoleServer, add_user
from tests.pulse import tone_onset
from tests.station import FREQS
from tests.test_api import token

pytestmark = pytest.mark.audio


def quiet_now() -> list[str]:
    """A quiet-hours line for za that holds for the next hour (the station's time zone is UTC)."""
    now = datetime.now(timezone.utc)
    return [f'quiet = "{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"']


def request_state(root, rid: int, seconds: float = 20) -> tuple:
    from broadcaster.records.playlog import Journal
    deadline = time.time() + seconds
    j = Journal(root / "state")
    try:
        while time.time() < deadline:
            status, reason, row = j.request_state(rid)
            if status in ("done", "failed", "interrupted"):
                return status, reason
            time.sleep(0.2)
    finally:
        j.close()
    raise AssertionError(f"request {rid} still waiting after {seconds} s")


def test_quiet_hours_hold_on_every_path_and_urgent_plays_through(station, tmp_path):
    station.configure([], zone_keys={"za": quiet_now()})
    station.build()
    root = station.root
    # the command line, no daemon: refused before the device is opened, nothing logged
    r = station.project.run("play", "d", "--zone", "za")
    assert r.code == 1 and "za (" in r.err and "quiet hours" in r.err and "urgent" in r.err, (r.code, r.err)
    assert station.log() == []
    station.record("zone_a")
    station.start()
    add_user(root, "an", "admin")
    api_token = token(root, "tinh", "technician")
    console = ConsoleServer(root, tmp_path / "web.log", env=station.pulse.env)
    try:
        # the command line through the daemon
        r = station.project.run("play", "d", "--zone", "za")
        assert r.code == 1 and "quiet hours" in r.err, (r.code, r.out, r.err)
        # the console and the API: 409 with the hours said
        c = console.client()
        assert c.login("an").status_code == 303
        r = c.post("/play", data={"csrf": c.csrf("/play"), "bulletin": "d", "priority": "normal", "zone": "za"})
        assert r.status_code == 409 and "quiet hours" in r.text, (r.status_code, r.text[-500:])
        r = httpx.post(console.url + "/api/v1/play", json={"bulletin": "d", "zones": ["za"], "priority": "priority"},
                       headers={"Authorization": f"Bearer {api_token}", "Accept-Language": "en"}, timeout=30)
        assert r.status_code == 409 and "quiet hours" in r.json()["error"], r.text
        # zb has no quiet hours: the API's play goes through
        r = httpx.post(console.url + "/api/v1/play", json={"bulletin": "d", "zones": ["zb"]},
                       headers={"Authorization": f"Bearer {api_token}", "Accept-Language": "en"}, timeout=30)
        assert r.status_code == 202, r.text
        [zb] = r.json()["requests"]
        assert request_state(root, zb["id"], 60) == ("done", None)
        # a hub's command reaches the daemon as a request (fleet.sync queues it): the daemon refuses it itself
        from broadcaster.records.playlog import Journal
        j = Journal(root / "state")
        try:
            rid = j.add_request("d", "za", "normal", datetime.now(timezone.utc), command="c0ffee", label="d")
        finally:
            j.close()
        status, reason = request_state(root, rid)
        assert status == "failed" and "quiet hours" in reason, (status, reason)
        # urgent plays through quiet hours, by every path
        r = station.project.run("play", "d", "--zone", "za", "--urgent")
        assert r.code == 0 and r.out.strip().endswith("played"), (r.out, r.err)
    finally:
        console.stop()
    assert station.stop() == 0
    assert tone_onset(station.recorders.pop("zone_a").stop(), FREQS["d"]) is not None
    rows = [(x["zone"], x["status"]) for x in station.log()]
    assert sorted(rows) == [("za", "played"), ("zb", "played")], rows
