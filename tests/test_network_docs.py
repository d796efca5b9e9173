"""The seed's district example in docs/network.md, run as written: the district's and the commune
station's [fleet] and zones exactly as the page shows them (only the server's address is this test's),
through a real nats-server and a real audio path."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.fleet import NatsServer, cli, free_port, when
from tests.tiers import AUDIO, Node, Tree

pytestmark = pytest.mark.audio

DOC = Path(__file__).resolve().parent.parent / "docs" / "network.md"


def seed_blocks() -> tuple[str, str]:
    text = DOC.read_text(encoding="utf-8")
    part = text[text.index("## The seed's case"):]
    blocks = re.findall(r"```toml\n(.*?)```", part, re.S)
    assert len(blocks) == 2, blocks
    return blocks[0], blocks[1]


def test_the_district_example_of_the_network_page_works_as_written(tmp_path, pulse):
    district_toml, station_toml = seed_blocks()
    port = free_port()
    address = f"nats://127.0.0.1:{port}"
    tree = Tree(tmp_path)
    district, station = tree.node("district"), tree.node("quang_an")
    t = time.time() + 40
    district.write([*AUDIO, district_toml.replace("nats://10.0.0.5:4222", address), *district.bulletins("a"),
                    "[[slots]]", 'bulletin = "a"', 'zones = ["quang_an"]', f'at = ["{when(t)}"]'])
    r = cli(district.root, "fleet", "init", "--listen", f"127.0.0.1:{port}")
    assert r.code == 0, r.err
    server = NatsServer(district.root / "state" / "fleet" / "nats-server.conf", port, tmp_path / "nats.log")
    server.start()
    try:
        shutil.copy(district.root / "state" / "fleet" / "stations" / "quang_an.toml", station.root / "quang_an.toml")
        station.write([station_toml.replace("nats://10.0.0.5:4222", address)])
        assert cli(district.root, "publish").code == 0
        station.start(pulse.env)
        station.wait_for("the hub's programme version", 30)
        coming = json.loads(cli(station.root, "next", "--json").out)
        assert [(a["bulletin"], a["zone"], a["origin"]) for a in coming] == [("a", "quang_an", "huyen")], coming
        station.wait_for("a played", t - time.time() + 20)
        deadline = time.time() + 20
        while True:
            rows = json.loads(cli(district.root, "log", "--json").out)
            if [(r["station"], r["bulletin"], r["status"]) for r in rows] == [("quang_an", "a", "played")]:
                break
            assert time.time() < deadline, rows
            time.sleep(1)
    finally:
        station.stop()
        server.stop()
