"""The district network through a real nats-server on 127.0.0.1 (no sound needed here; the on-air
acceptance with two stations playing into null sinks is in test_fleet_onair.py)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.fleet import Fleet, cli, make_fleet  # noqa: F401  (make_fleet is a fixture)


def link_as(fleet: Fleet, who: str):
    """A client connection as the district or as one station, through the product's own Link."""
    from broadcaster.config import load_config
    from broadcaster.fleet.client import Link
    from broadcaster.fleet.credentials import hub_credentials, up_credentials
    if who == "district":
        return Link(hub_credentials(load_config(fleet.district / "schedule.toml")))
    return Link(up_credentials(load_config(fleet.stations[who] / "schedule.toml")))


async def connected(fleet: Fleet, who: str):
    link = link_as(fleet, who)
    await link.connect(name=f"test {who}")
    return link


@pytest.fixture
def fleet(make_fleet) -> Fleet:
    f = make_fleet({"qa": "zone_a", "qb": "zone_b"})
    t0 = time.time() + 3600
    f.district_config([("a", ["qa", "qb"], 0, "normal"), ("b", ["qa"], 60, "normal"), ("c", ["huyen"], 0, "normal")],
                      t0)
    f.init()
    f.start_server()
    for s in f.stations:
        f.station_config(s)
    return f


def test_init_writes_accounts_a_server_runs_with_and_keeps_them_when_run_again(fleet):
    folder = fleet.district / "state" / "fleet"
    assert {p.name for p in (folder / "stations").iterdir()} == {"qa.toml", "qb.toml"}
    for p in [folder / "hub.key", folder / "hub.toml", *(folder / "stations").iterdir()]:
        assert p.stat().st_mode & 0o077 == 0, p   # private: only the owner reads them
    conf = (folder / "nats-server.conf").read_text()
    assert "jetstream" in conf and '"$2' in conf and "password" in conf   # bcrypt hashes, not passwords
    qa_before = (folder / "stations" / "qa.toml").read_text()
    # a new commune: run again; qa keeps its password, qc gets one
    text = (fleet.district / "schedule.toml").read_text() + '[zones.qc]\nname = "Xã C"\nstation = "qc"\n'
    (fleet.district / "schedule.toml").write_text(text, encoding="utf-8")
    r = fleet.init()
    assert "+ station qc" in r.out and "= station qa: kept" in r.out
    assert (folder / "stations" / "qa.toml").read_text() == qa_before
    fleet.server.stop()
    fleet.start_server()

    async def go():
        link = await connected(fleet, "qa")   # the old credentials still work after the restart
        await link.close()
    asyncio.run(go())


def test_a_station_may_touch_only_its_own_things(fleet):
    assert cli(fleet.district, "publish").code == 0

    async def go():
        from broadcaster.errors import FleetError
        qa = await connected(fleet, "qa")
        try:
            assert await qa.my_manifest() is not None                      # its own programme: yes
            with pytest.raises(FleetError, match="permissions violation"):
                await qa.manifest_of("qb")                                 # another station's: no
            with pytest.raises(FleetError, match="permissions violation"):
                await qa.put_manifest("qa", b"{}")                         # writing a programme: no
            await qa.heartbeat(b'{"time": 1}')                             # its own heartbeat: yes
            with pytest.raises(FleetError, match="permissions violation"):
                await qa._call("send a heartbeat", qa.js.publish("$KV.bc_state.qb", b"{}"))  # as qb: no
            with pytest.raises(FleetError, match="permissions violation"):
                await qa._call("send a command", qa.js.publish("bc.cmd.qb", b"{}"))
        finally:
            await qa.close()
    asyncio.run(go())


def test_wrong_credentials_server_down_and_a_wrong_address_are_one_clear_line(fleet):
    r = cli(fleet.stations["qa"], "fleet", "status")
    assert r.code == 2 and "hub's project" in r.err and "Traceback" not in r.err
    creds = fleet.district / "state" / "fleet" / "hub.toml"
    good = creds.read_text()
    creds.write_text(good.replace('password = "', 'password = "x'))
    r = cli(fleet.district, "fleet", "status")
    assert r.code == 1 and "refused our credentials" in r.err and "fleet init" in r.err, r.err
    creds.write_text(good)
    r = cli(fleet.district, "fleet", "status")
    assert r.code == 0 and "qa" in r.out and "offline" in r.out, r.err
    fleet.server.stop()
    r = cli(fleet.district, "publish")
    assert r.code == 1 and "connection refused" in r.err and "Traceback" not in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1
    text = (fleet.district / "schedule.toml").read_text().replace("nats://127.0.0.1", "nats://no-such-host.invalid")
    (fleet.district / "schedule.toml").write_text(text)
    r = cli(fleet.district, "publish")
    assert r.code == 1 and "not known" in r.err, r.err
    text = text.replace("nats://no-such-host.invalid", "http://127.0.0.1")
    (fleet.district / "schedule.toml").write_text(text)
    r = cli(fleet.district, "publish")
    assert r.code == 2 and "server must be the hub's message server" in r.err, r.err


def test_publish_says_what_changes_and_sends_nothing_twice(fleet):
    r = cli(fleet.district, "publish", "--dry-run")
    assert r.code == 0 and "Dry run" in r.out and "first programme" in r.out, r.out + r.err
    r = cli(fleet.district, "publish")
    assert r.code == 0, r.err
    assert "qa: first programme: 2 bulletin(s), 2 slot(s)" in r.out and "qb: first programme: 1 bulletin(s)" in r.out
    assert "2 audio file(s) uploaded" in r.out
    r = cli(fleet.district, "publish")
    assert r.code == 0 and "qa: unchanged" in r.out and "0 audio file(s) uploaded" in r.out, r.out
    (fleet.district / "scripts" / "b.txt").write_text("Nội dung mới của bản tin.", encoding="utf-8")
    r = cli(fleet.district, "publish")
    assert "qa: ~ bulletin b: new audio" in r.out and "qb: unchanged" in r.out, r.out


def test_a_programme_by_usb_stick_is_verified_and_installed_whole(fleet, tmp_path):
    stick = tmp_path / "usb"
    r = cli(fleet.district, "publish", "--to-dir", str(stick))
    assert r.code == 0, r.err
    qa = fleet.stations["qa"]
    r = cli(qa, "next", "--json")
    assert json.loads(r.out) == []   # nothing yet
    r = cli(qa, "fleet", "import", str(stick))
    assert r.code == 0 and "installed (2 bulletin(s), 2 slot(s))" in r.out, r.out + r.err
    coming = json.loads(cli(qa, "next", "--json").out)
    assert {(a["bulletin"], a["zone"], a["origin"]) for a in coming} == {("a", "qa", "hub"), ("b", "qa", "hub")}
    table = cli(qa, "next").out
    assert table.splitlines()[1].endswith("hub")   # scheduled by the hub (its [fleet] id, "hub" by default)
    # the district's zone plays on this PC's output and is heard on this PC's monitor input
    from broadcaster.config import load_config
    fleet.station_config("qa", '[fleet.monitors]\nqa = "qa-line-in"\n')
    zone = load_config(qa / "schedule.toml").zones["qa"]
    assert (zone.device, zone.monitor, zone.origin) == (fleet.devices["qa"], "qa-line-in", "hub")
    installed = (qa / "state" / "fleet" / "programme.toml").read_text()
    # tampered on the way: a slot moved, the signature no longer matches
    doc = json.loads((stick / "qa.programme.json").read_text())
    doc["slots"][0]["at"] = ["03:00:00"]
    (stick / "qa.programme.json").write_text(json.dumps(doc))
    r = cli(qa, "fleet", "import", str(stick))
    assert r.code == 1 and "does not carry the signature of a hub this station trusts" in r.err, r.err
    assert (qa / "state" / "fleet" / "programme.toml").read_text() == installed


def test_audio_with_another_hash_or_cut_short_is_refused_and_the_old_programme_kept(fleet, tmp_path):
    stick = tmp_path / "usb"
    assert cli(fleet.district, "publish", "--to-dir", str(stick)).code == 0
    qb = fleet.stations["qb"]
    wanted = json.loads((stick / "qb.programme.json").read_text())["bulletins"]  # the audio qb's programme needs
    audio = next(stick / "audio" / f"{b['sha256']}.{b['format']}" for b in wanted.values())
    good = audio.read_bytes()
    for damaged, reason in ((good[:-1000], "truncated transfer"), (good[:-4] + b"XXXX", "another SHA-256")):
        audio.write_bytes(damaged)
        r = cli(qb, "fleet", "import", str(stick))
        assert r.code == 1 and reason in r.err, r.err
        assert not (qb / "state" / "fleet" / "programme.toml").exists()
        assert not list((qb / "state" / "fleet").rglob(".*"))   # no temporary file left behind
    audio.unlink()
    r = cli(qb, "fleet", "import", str(stick))
    assert r.code == 1 and "not in" in r.err, r.err
    audio.write_bytes(good)
    assert cli(qb, "fleet", "import", str(stick)).code == 0


def programme_of(root):
    return (root / "state" / "fleet" / "programme.toml").read_text()


def test_bad_programmes_from_the_server_are_refused_and_the_last_good_one_kept(fleet):
    """A station's daemon: a changed manifest, one naming missing audio, one whose audio has another
    hash: each refused and logged; what it plays stays the last good programme."""
    from broadcaster.fleet.signing import sign
    assert cli(fleet.district, "publish").code == 0
    fleet.start_daemon("qa", {})
    fleet.wait_for_log("qa", "the hub's programme version")
    good = programme_of(fleet.stations["qa"])
    key = (fleet.district / "state" / "fleet" / "hub.key").read_text().strip()
    junk = fleet.tmp / "junk.wav"
    junk.write_bytes(b"RIFF" + bytes(5000))

    async def put(doc: dict, *, signed: bool = True) -> None:
        district = await connected(fleet, "district")
        try:
            body = sign({k: v for k, v in doc.items() if k != "signature"}, key) if signed else doc
            await district.put_manifest("qa", json.dumps(body).encode())
        finally:
            await district.close()

    async def current() -> dict:
        district = await connected(fleet, "district")
        try:
            return json.loads(await district.manifest_of("qa"))
        finally:
            await district.close()
    doc = asyncio.run(current())
    cases = [
        ("does not carry the signature of a hub this station trusts", dict(doc, version=doc["version"] + 1, slots=[]), False, False),
        ("is not on the server", dict(doc, version=doc["version"] + 2, bulletins={**doc["bulletins"], "a": {
            **doc["bulletins"]["a"], "sha256": "0" * 64}}), True, False),
        ("another SHA-256", dict(doc, version=doc["version"] + 3, bulletins={**doc["bulletins"], "a": {
            **doc["bulletins"]["a"], "sha256": "1" * 64, "size": junk.stat().st_size}}), True, True),
        ("older than the installed", dict(doc, version=doc["version"] - 1), True, False),
    ]
    for reason, bad, signed, extra in cases:
        if extra:   # an object stored under a name that is not its hash
            async def smuggle():
                district = await connected(fleet, "district")
                try:
                    await district.put_object("1" * 64, junk)
                finally:
                    await district.close()
            asyncio.run(smuggle())
        asyncio.run(put(bad, signed=signed))
        fleet.wait_for_log("qa", reason)
        assert programme_of(fleet.stations["qa"]) == good, reason
    deadline = time.time() + 20
    while True:   # the district sees it in the next heartbeats
        status = json.loads(cli(fleet.district, "fleet", "status", "--json").out)
        qa = next(s for s in status if s["station"] == "qa")
        if qa["alerts"] and qa["programme"] == doc["version"]:
            break
        assert time.time() < deadline, qa
        time.sleep(1)
    assert qa["online"] and "refused" in qa["alerts"][0] and qa["published"] != qa["programme"], qa
    # a zone's alert (raised by its monitor: here written where the monitor writes it) reaches the district too
    from datetime import datetime, timezone
    from broadcaster.records.alerts import AlertLog
    from broadcaster.records.playlog import Journal
    journal = Journal(fleet.stations["qa"] / "state")
    AlertLog(journal).raise_("qa_zone", "dead_air", "nothing heard on the monitor for 12 s", datetime.now(timezone.utc))
    journal.close()
    deadline = time.time() + 20
    while not any("qa_zone: dead air since" in a and "12 s" in a for a in qa["alerts"]):
        assert time.time() < deadline, qa
        time.sleep(1)
        qa = next(s for s in json.loads(cli(fleet.district, "fleet", "status", "--json").out) if s["station"] == "qa")
    # and the district's next good publish is taken
    (fleet.district / "scripts" / "a.txt").write_text("Bản tin mới.", encoding="utf-8")
    assert cli(fleet.district, "publish").code == 0
    deadline = time.time() + 20
    while programme_of(fleet.stations["qa"]) == good:
        assert time.time() < deadline, fleet.daemon_log("qa")[-2000:]
        time.sleep(0.2)


def test_a_station_killed_mid_transfer_never_has_half_a_programme(fleet):
    """kill -9 while a large file is on its way; the next start finishes the job."""
    import numpy as np
    import signal
    import soundfile as sf
    rec = fleet.district / "recordings"
    rec.mkdir()
    sf.write(str(rec / "long.wav"), (np.random.default_rng(1).standard_normal((44100 * 240, 2)) * 3000)
             .astype(np.int16), 44100)   # 40 MB
    text = (fleet.district / "schedule.toml").read_text()
    text = text.replace("[zones.huyen]", '[bulletins.long]\nfile = "recordings/long.wav"\n[zones.huyen]')
    text += '[[slots]]\nbulletin = "long"\nzones = ["qa"]\nat = ["03:00"]\n'
    (fleet.district / "schedule.toml").write_text(text)
    assert cli(fleet.district, "publish").code == 0
    qa = fleet.stations["qa"]
    audio = qa / "state" / "fleet" / "audio"
    p = fleet.start_daemon("qa", {})
    deadline = time.time() + 30
    while not list(audio.glob(".*.part")) if audio.exists() else True:
        assert time.time() < deadline and p.poll() is None, fleet.daemon_log("qa")[-2000:]
        time.sleep(0.002)
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    assert not (qa / "state" / "fleet" / "programme.toml").exists()   # not half: nothing
    assert cli(qa, "next", "--json").out.strip() == "[]"
    fleet.daemons.pop("qa")
    fleet.start_daemon("qa", {})
    fleet.wait_for_log("qa", "the hub's programme version", timeout=60)
    assert "long" in programme_of(qa)
    assert not list(audio.glob(".*"))    # the interrupted transfer's leftovers are gone
    long = next(p for p in audio.iterdir() if p.stat().st_size > 10_000_000)
    from broadcaster.fsutil import sha256_file
    assert long.name.startswith(sha256_file(rec / "long.wav"))


def test_malformed_rows_from_one_station_are_quarantined_and_the_others_arrive(fleet):
    """A station (its own credentials, its own subject: the server rightly lets it) sends rows that are
    not rows; the district keeps them aside, says which station, and stores everybody's valid rows."""
    good = {"id": 1, "version": 1, "scheduled": "2026-12-02T05:30:00.000+07:00", "zone": "qb", "bulletin": "a",
            "audio": None, "audio_sha256": None, "priority": "normal", "slot": 0, "request": None,
            "started": "2026-12-02T05:30:00.000+07:00", "ended": None, "status": "playing", "reason": None}
    bad = [json.dumps({"id": 777, "version": 1, "scheduled": "2026-12-02T05:30:00+07:00"}).encode(),   # no zone
           json.dumps({**good, "id": "x"}).encode(),                                                 # wrong type
           json.dumps({**good, "id": 3, "status": "exploded"}).encode(),                             # no such status
           json.dumps({**good, "id": 4, "start_error_ms": "soon"}).encode(),
           b"not json at all", b"[1, 2]",
           json.dumps({**good, "id": 5, "reason": "x" * 900_000}).encode(),                          # 900 KB
           json.dumps({**good, "id": 6, "reason": "x" * 2_000_000}).encode(),                        # 2 MB
           json.dumps({**good, "id": 7, "path": "../qb"}).encode()]       # speaking for another station
    assert cli(fleet.district, "publish").code == 0   # the district's streams are made

    async def go():
        from broadcaster.errors import FleetError
        qa, qb = await connected(fleet, "qa"), await connected(fleet, "qb")
        try:
            for i, data in enumerate(bad):
                await qa.publish_row(data, f"bad-{i}")
            with pytest.raises(FleetError):   # 5 MB: past what the server takes at all (max_payload 4 MB)
                await qa.publish_row(b"x" * 5_000_000, "bad-huge")
            await qa.publish_row(json.dumps({**good, "zone": "qa"}).encode(), "qa:1:1")
            # a leaf speaking for a station it says is beneath it (issue 42, 2: stored as "qa/qb" and counted)
            await qa.publish_row(json.dumps({**good, "id": 8, "path": "qb"}).encode(), "qa:8:1")
            for i in range(1, 4):
                await qb.publish_row(json.dumps({**good, "id": i, "status": "played"}).encode(), f"qb:{i}:1")
        finally:
            await qa.close()
            await qb.close()
    asyncio.run(go())
    r = cli(fleet.district, "log", "--json")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert sorted((x["station"], x["zone"], x["status"]) for x in rows) == [
        ("qa", "qa", "playing"), ("qb", "qb", "played"), ("qb", "qb", "played"), ("qb", "qb", "played")], rows
    from broadcaster.records.playlog import Journal
    j = Journal(fleet.district / "state")
    try:
        assert j.quarantined() == {"qa": len(bad)}
        reasons = [r[0] for r in j.store.read("SELECT reason FROM quarantine ORDER BY id")]
        assert "zone must be a text" in reasons[0] and "not JSON" in reasons[4] and "larger than a row" in reasons[6]
        assert "larger than a row" in reasons[7] and "path must be station ids" in reasons[8]
        from broadcaster.records.alerts import AlertLog
        [alert] = AlertLog(j).active("qa")
        assert alert.kind == "malformed" and "station qa" in alert.detail
    finally:
        j.close()
    r = cli(fleet.district, "log", "--json")   # the next read goes on: nothing is redelivered forever
    assert r.code == 0 and len(json.loads(r.out)) == 4


def test_stopping_connected_daemons_is_quiet_and_exits_0(fleet):
    """SIGTERM is how systemd stops a daemon: no traceback, no asyncio complaint, exit 0, at both ends."""
    import os
    import signal
    import subprocess
    import sys
    assert cli(fleet.district, "publish").code == 0
    qa = fleet.start_daemon("qa", {})
    log = open(fleet.tmp / "district.daemon.log", "ab")
    district = subprocess.Popen([sys.executable, "-m", "broadcaster", "daemon"], cwd=fleet.district, stdout=log,
                                stderr=subprocess.STDOUT, env={**os.environ, "LANG": "C.UTF-8"})
    fleet.daemons["district"] = district
    fleet.wait_for_log("qa", "the hub's programme version")   # connected, and has taken its programme
    deadline = time.time() + 20
    while b"daemon started" not in (fleet.tmp / "district.daemon.log").read_bytes():
        assert district.poll() is None and time.time() < deadline, fleet.daemon_log("district")
        time.sleep(0.1)
    time.sleep(2)   # heartbeats and the collector's fetch under way
    for p in (qa, district):
        p.send_signal(signal.SIGTERM)
    assert qa.wait(20) == 0 and district.wait(20) == 0
    for who in ("qa", "district"):
        text = fleet.daemon_log(who)
        for noise in ("Traceback", "Task was destroyed", "Event loop is closed", "never retrieved"):
            assert noise not in text, (who, text[-3000:])


def test_a_station_in_another_time_zone_airs_at_the_hubs_instants(fleet, tmp_path):
    """The hub's programme carries its time zone: a station whose own clock zone differs airs the
    hub's slots at the hub's instants, not at the same wall-clock reading in its own zone."""
    text = (fleet.district / "schedule.toml").read_text().replace('timezone = "UTC"', 'timezone = "Asia/Ho_Chi_Minh"')
    (fleet.district / "schedule.toml").write_text(text, encoding="utf-8")
    hub = {(a["bulletin"], a["zone"]): a["time"] for a in json.loads(cli(fleet.district, "next", "--json").out)}
    stick = tmp_path / "usb"
    assert cli(fleet.district, "publish", "--to-dir", str(stick)).code == 0
    qa = fleet.stations["qa"]   # its own configuration says UTC
    r = cli(qa, "fleet", "import", str(stick))
    assert r.code == 0, r.err
    from datetime import datetime
    coming = json.loads(cli(qa, "next", "--json").out)
    assert coming
    for a in coming:
        assert datetime.fromisoformat(a["time"]) == datetime.fromisoformat(hub[(a["bulletin"], a["zone"])]), a
        assert datetime.fromisoformat(a["time"]).utcoffset().total_seconds() == 0   # shown in the station's zone


def test_a_station_airs_the_hubs_bulletins_in_its_own_slots_at_normal_priority_only(fleet, tmp_path):
    """NĐ 49: the commune cannot change the province's programme; it may air its bulletins again, normal only."""
    stick = tmp_path / "usb"
    assert cli(fleet.district, "publish", "--to-dir", str(stick)).code == 0
    qa = fleet.stations["qa"]
    assert cli(qa, "fleet", "import", str(stick)).code == 0
    own = '[[slots]]\nbulletin = "a"\nzones = ["qa"]\nat = ["23:59"]\n'
    fleet.station_config("qa", own)
    r = cli(qa, "check")
    assert r.code == 0, r.out + r.err
    coming = json.loads(cli(qa, "next", "--days", "2", "--json").out)
    assert ("a", "local") in {(a["bulletin"], a["origin"]) for a in coming}, coming
    assert {a["origin"] for a in coming if a["bulletin"] == "b"} == {"hub"}   # the hub's own, as it sent them
    fleet.station_config("qa", own + 'priority = "urgent"\n')
    r = cli(qa, "check")
    assert r.code == 2 and "the hub's bulletin" in r.err + r.out and "normal priority only" in r.err + r.out, r.err
    # a bulletin of its own with the hub's id is still refused: the hub's bulletins are the hub's
    fleet.station_config("qa", '[tts]\nengine = "espeak"\n[bulletins.a]\nscript = "a.txt"\n')
    (qa / "a.txt").write_text("Xin chào.", encoding="utf-8")
    r = cli(qa, "check")
    assert r.code == 2 and "also in the hub's programme" in r.err + r.out, r.out + r.err


def test_the_console_at_a_hub_plays_a_group_of_zones_below_as_signed_commands(fleet, tmp_path):
    """'Phát ngay' on a group of clusters from the hub's console, and the same through the API (one path for
    both since issue 41; the API answered 409 "no daemon serves" before): each station below gets its own
    zones, once per play."""
    import httpx
    from tests.console import ConsoleServer, add_user
    from tests.test_api import token
    text = (fleet.district / "schedule.toml").read_text() + '[groups]\nca_hai = ["qa", "qb"]\n'
    (fleet.district / "schedule.toml").write_text(text, encoding="utf-8")
    assert cli(fleet.district, "build").code == 0
    add_user(fleet.district, "chi", "technician")
    secret = token(fleet.district, "tinh", "technician")
    server = ConsoleServer(fleet.district, tmp_path / "web.log")
    try:
        with server.client() as c:
            assert c.login("chi").status_code == 303
            page = c.get("/play").text
            assert 'value="qa"' in page and "→ qa" in page   # a zone a station below plays is offered too
            csrf = c.csrf("/play")
            r = c.post("/play", data={"csrf": csrf, "bulletin": "a", "priority": "normal", "group": "ca_hai"})
            assert r.status_code == 200 and "error" not in r.text.lower(), r.text[-2000:]
        r = httpx.post(server.url + "/api/v1/play", json={"bulletin": "a", "groups": ["ca_hai"], "priority": "priority"},
                       headers={"Authorization": f"Bearer {secret}", "Accept-Language": "en"}, timeout=60)
        assert r.status_code == 202 and sorted(s["station"] for s in r.json()["stations"]) == ["qa", "qb"], r.text
    finally:
        server.stop()

    async def go():
        from broadcaster.fleet.orders import read_command
        got = {}
        for s in ("qa", "qb"):
            link = await connected(fleet, s)
            try:
                got[s] = []
                for m in await (await link.command_consumer()).fetch(2, timeout=10):
                    doc = read_command(m.data, link.creds.keys, s, [s])
                    got[s].append((doc["zones"], doc["signer"], doc["bulletin"], doc["priority"]))
                    await m.ack()
            finally:
                await link.close()
        return got
    assert asyncio.run(go()) == {s: [([s], "hub", "a", "normal"), ([s], "hub", "a", "priority")] for s in ("qa", "qb")}


def test_a_station_airs_what_the_hub_plans_holidays_exceptions_moves_and_recurrences_included(fleet, tmp_path):
    """The hub's calendar travels with its programme: the clusters below hold back its holidays and a
    slot's except dates, follow a moved or cancelled airing, and repeat every N weeks or on the nth
    weekday as the hub does; a station's airings are exactly the hub's on the station's zones."""
    def plan(where, zone):
        r = cli(where, "next", "--json", "--from", "2026-12-28", "--days", "70", "--zone", zone)
        assert r.code == 0, r.err
        return sorted((a["time"][:16], a["bulletin"]) for a in json.loads(r.out) if a["zone"] == zone)

    before = set(plan(fleet.district, "qa"))   # the fixture's own daily slots
    hub = fleet.district / "schedule.toml"
    hub.write_text(hub.read_text(encoding="utf-8") + """
[calendar]
skip = ["2027-01-01"]

[[slots]]                 # every other Tuesday and Friday, not on 2027-01-12
bulletin = "a"
zones = ["qa", "qb"]
at = ["05:30", "17:00"]
days = "tue,fri"
weeks = 2
start = 2026-12-28
except = [2027-01-12]

[[slots]]                 # the second Sunday of each month
bulletin = "b"
zones = ["qa"]
at = ["07:00"]
monthly = "2nd sun"

[[changes]]
bulletin = "a"
at = 2027-01-26T17:00:00
to = 2027-01-26T18:15:00

[[changes]]
bulletin = "b"
at = 2027-02-14T07:00:00
cancel = true
""", encoding="utf-8")
    assert cli(fleet.district, "check").code == 0
    stick = tmp_path / "usb"
    assert cli(fleet.district, "publish", "--to-dir", str(stick)).code == 0
    qa = fleet.stations["qa"]
    assert cli(qa, "fleet", "import", str(stick)).code == 0
    at_hub = plan(fleet.district, "qa")
    assert plan(qa, "qa") == at_hub
    times = [t for t, b in at_hub if (t, b) not in before]
    assert "2026-12-29T05:30" in times and "2027-01-01T05:30" not in times        # week 1: Tue; Fri is a holiday
    assert not any(t.startswith(("2027-01-05", "2027-01-08")) for t in times)   # week 2: not this week
    assert not any(t.startswith("2027-01-12") for t in times) and "2027-01-15T17:00" in times   # except, then Fri
    assert "2027-01-26T18:15" in times and "2027-01-26T17:00" not in times         # moved
    assert "2027-01-10T07:00" in times and "2027-02-14T07:00" not in times         # 2nd Sunday; one cancelled
    assert "2027-03-14T07:00" not in times and "2027-03-07T07:00" not in times     # (past the 70 days / 1st Sun)
