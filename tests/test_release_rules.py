"""What a station takes from above, by its real readers and real signatures: messages of a newer format
refused with the reason (never misread), older and wider ones read; a release checked before anything
of it is installed; the hub's rollout rules (stop at a share failed, promote after a healthy spell)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from broadcaster import __version__
from broadcaster.config import load_config
from broadcaster.errors import RefusedError
from broadcaster.fleet import release, update
from broadcaster.fleet.manifest import read_manifest
from broadcaster.fleet.orders import make_command, read_command
from broadcaster.fleet.signing import new_private_key, public_key, sign

KEY = new_private_key()
KEYS = {"tinh": public_key(KEY)}
NOW = datetime(2026, 12, 8, 8, 0, tzinfo=timezone.utc)


def command(**extra) -> bytes:
    doc, _raw = make_command("xa1", bulletin="tin", title="Tin", audio={"sha256": "0" * 64, "size": 1, "format": "mp3"},
                             zones=[], priority="urgent", now=NOW, deadline=NOW + timedelta(minutes=10),
                             signing_key=KEY, by="tinh")
    doc = {k: v for k, v in doc.items() if k != "signature"}
    doc.update(extra)
    doc = {k: v for k, v in doc.items() if v is not None}
    return json.dumps(sign(doc, KEY)).encode()


def test_a_command_of_a_newer_format_is_refused_with_the_reason_and_older_or_wider_ones_are_read():
    assert read_command(command(), KEYS, "xa1")["priority"] == "urgent"
    assert read_command(command(format=None), KEYS, "xa1")["priority"] == "urgent"       # from an older hub
    assert read_command(command(loudness=-16), KEYS, "xa1")["priority"] == "urgent"      # a field added later
    with pytest.raises(RefusedError, match="format 2, newer than this broadcaster reads"):
        read_command(command(format=2), KEYS, "xa1")
    with pytest.raises(RefusedError, match="no valid format"):
        read_command(command(format="2"), KEYS, "xa1")


def test_a_programme_of_a_newer_format_is_refused_with_the_reason():
    doc = sign({"kind": "broadcaster-programme", "format": 2, "station": "xa1", "version": 1, "zones": {},
                "bulletins": {}, "slots": []}, KEY)
    with pytest.raises(RefusedError, match="format 2, newer"):
        read_manifest(json.dumps(doc).encode(), KEYS["tinh"], "xa1")


@pytest.fixture
def station(tmp_path):
    (tmp_path / "schedule.toml").write_text('timezone = "UTC"\n', encoding="utf-8")
    return load_config(tmp_path / "schedule.toml")


def wheel(tmp_path: Path, version: str, data: bytes = b"PK\x05\x06" + bytes(18)) -> Path:
    p = tmp_path / f"broadcaster-{version}-py3-none-any.whl"
    p.write_bytes(data)
    return p


def newer_version(by: int = 1) -> str:
    major, minor, patch = __version__.split(".")[:3]
    return f"{major}.{minor}.{int(patch) + by}"


def test_a_release_is_checked_before_anything_of_it_is_installed(station, tmp_path):
    path = wheel(tmp_path, newer_version())
    doc = release.make_release(path, signing_key=KEY, by="tinh", now=NOW, trial=600, quiet=60)
    raw = json.dumps(doc).encode()
    # signed by a hub this station does not trust, or changed on the way: refused
    with pytest.raises(RefusedError, match="signature"):
        update.wanted(station, raw, {"tinh": public_key(new_private_key())})
    with pytest.raises(RefusedError, match="signature"):
        update.wanted(station, raw.replace(b'"quiet": 60', b'"quiet": 5'), KEYS)
    taken = update.wanted(station, raw, KEYS)
    assert taken["version"] == newer_version() and taken["signer"] == "tinh"
    # the file arrives with other bytes: refused and said, nothing installed
    with pytest.raises(RefusedError, match="another size or SHA-256"):
        update.prepare(station, taken, lambda sha, into: into.write_bytes(b"something else entirely"))
    st = update.read_state(station)
    assert st["state"] == "refused" and st["version"] == newer_version() and "SHA-256" in st["reason"]
    assert not list(update.releases_dir(station).glob("env-*"))
    assert update.wanted(station, raw, KEYS) is None        # the same release is not taken again
    # the version running now, or an older one, is not a release to take
    same = release.make_release(wheel(tmp_path, __version__), signing_key=KEY, by="tinh", now=NOW, trial=600, quiet=60)
    assert update.wanted(station, json.dumps(same).encode(), KEYS) is None
    # a release whose file name does not say its version is malformed
    bad = sign({**{k: v for k, v in doc.items() if k != "signature"}, "version": newer_version(2)}, KEY)
    with pytest.raises(RefusedError, match="malformed"):
        update.wanted(station, json.dumps(bad).encode(), KEYS)


def test_the_rollout_stops_at_its_share_failed_and_is_promoted_after_a_healthy_spell():
    doc = {"version": "9.0.0"}
    r = {"release": doc, "stages": [["a", "b", "c", "d"], ["e", "f"]], "stage": 0, "stop_share": 0.5,
         "promote_after": 3600, "stopped": None}
    now = time.time()
    old = {"software": "8.0.0"}
    ok = {"software": "9.0.0", "update": {"state": "healthy", "version": "9.0.0", "since": now - 4000}}
    failed = {"software": "8.0.0", "update": {"state": "rolled_back", "version": "9.0.0", "reason": "x"}}
    assert release.review(r, {"a": failed, "b": ok, "c": old, "d": old}, now) is None     # 1 of 4: below 50 %
    assert release.review(r, {"a": failed, "b": failed, "c": ok, "d": old}, now) == "stop"
    assert release.review(r, {s: ok for s in "abcd"}, now) == "promote"
    assert release.review(r, {s: ok for s in "abcd"}, now - 1000) is None                # not healthy long enough
    assert release.review({**r, "stopped": "x"}, {s: failed for s in "abcd"}, now) is None
    assert release.tally(r, {"a": ok, "b": failed, "c": old})["waiting"] == ["c", "d"]


def test_a_heartbeat_of_a_newer_format_is_said_and_not_misread(tmp_path):
    from broadcaster.fleet.status import station_rows
    (tmp_path / "schedule.toml").write_text('timezone = "UTC"\n[fleet]\nserver = "nats://127.0.0.1:4222"\n'
                                            '[zones.xa1]\nstation = "xa1"\n[zones.xa2]\nstation = "xa2"\n',
                                            encoding="utf-8")
    cfg = load_config(tmp_path / "schedule.toml")
    beat = {"time": time.time(), "software": "9.0.0", "programme": 5, "playing": [{"zone": "xa1", "bulletin": "tin"}],
            "backlog": 0, "alerts": []}
    rows = {r["station"]: r for r in station_rows(cfg, {"xa1": {**beat, "format": 2}, "xa2": beat}, {}, {})}
    assert rows["xa1"]["playing"] == [] and rows["xa1"]["programme"] is None and rows["xa1"]["software"] == "9.0.0"
    assert "format 2, newer than this hub reads (1)" in rows["xa1"]["alerts"][0], rows["xa1"]
    assert rows["xa2"]["playing"] == beat["playing"] and rows["xa2"]["alerts"] == []


def test_a_file_that_is_not_a_release_of_broadcaster_is_refused_at_the_hub(tmp_path):
    from broadcaster.errors import ConfigError
    for name in ("notes.txt", "broadcaster-1.0.zip", "other-1.0.0-py3-none-any.whl"):
        with pytest.raises(ConfigError, match="is not a release of broadcaster"):
            release.make_release(wheel(tmp_path, "x").rename(tmp_path / name), signing_key=KEY, by="tinh", now=NOW,
                                 trial=600, quiet=60)
