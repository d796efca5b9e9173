"""A new version of broadcaster down the tree, through real processes: a hub and four station daemons
on one nats-server, each daemon restarted by a supervisor as systemd's Restart=always would. A release
built here (this project with its version bumped) goes to a group, then to all; a broken one (its
daemon exits at start) is rolled back by each station that got it, and the hub stops its rollout.
Every airing due meanwhile plays on time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from broadcaster import __version__
from tests.console import ConsoleServer, add_user
from tests.fleet import REPO, cli, make_fleet  # noqa: F401  (a fixture)

pytestmark = pytest.mark.audio

FIRST = 20.0     # seconds from the publication to the first airing
SPACING = 12.0   # seconds between the airings of every station
QUIET = "6s"     # a station restarts only with nothing due within this


def bump(version: str, by: int) -> str:
    major, minor, patch = version.split(".")[:3]
    return f"{major}.{minor}.{int(patch) + by}"


def build_release(tmp: Path, version: str, *, broken: bool = False) -> Path:
    """A wheel of this project with its version set to ``version`` (and, broken, a daemon that exits
    at once with status 3), built by pip from a copy of the source, offline."""
    src = tmp / f"src-{version}"
    src.mkdir(parents=True)
    subprocess.run(["cp", "-r", *(str(REPO / x) for x in ("broadcaster", "setup.cfg", "pyproject.toml", "README.md")),
                    str(src)], check=True)
    init = src / "broadcaster" / "__init__.py"
    init.write_text(init.read_text().replace(f'__version__ = "{__version__}"', f'__version__ = "{version}"'))
    if broken:
        station = src / "broadcaster" / "commands" / "station.py"
        text = station.read_text()
        marker = '    from broadcaster.daemon.daemon import Daemon, setup_logging\n'
        assert marker in text
        station.write_text(text.replace(marker, marker + "    raise SystemExit(3)   # the broken release\n", 1))
    out = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(out), str(src)], check=True, capture_output=True)
    return out / f"broadcaster-{version}-py3-none-any.whl"


class Supervised(threading.Thread):
    """A daemon started again a second after it exits, as systemd's Restart=always starts it."""

    def __init__(self, root: Path, log: Path, env: dict):
        super().__init__(daemon=True)
        self.root, self.log, self.env = root, log, env
        self.proc: subprocess.Popen | None = None
        self.exits: list[int] = []
        self.stopping = False

    def run(self) -> None:
        while not self.stopping:
            with open(self.log, "ab") as out:
                self.proc = subprocess.Popen([sys.executable, "-m", "broadcaster", "daemon"], cwd=self.root,
                                             stdout=out, stderr=subprocess.STDOUT,
                                             env={**os.environ, "LANG": "C.UTF-8", **self.env})
            self.exits.append(self.proc.wait())
            time.sleep(1.0)

    def stop(self) -> None:
        self.stopping = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def test_a_release_goes_to_a_group_then_to_all_and_a_broken_one_is_rolled_back_and_stopped(make_fleet, pulse,
                                                                                            tmp_path):
    good, bad = bump(__version__, 1), bump(__version__, 2)
    builds = ThreadPoolExecutor(2)
    wheels = [builds.submit(build_release, tmp_path / "good", good),
              builds.submit(build_release, tmp_path / "bad", bad, broken=True)]
    stations = {"s1": "zone_a", "s2": "zone_b", "s3": "zone_a", "s4": "zone_b"}
    fleet = make_fleet(stations)
    slots = [("ab"[k % 2], list(stations), FIRST + SPACING * k, "normal") for k in range(20)]
    groups = '[groups]\nthi_diem = ["s1", "s2"]\n'
    fleet.district_config(slots, time.time() + 3600)
    fleet.init()
    fleet.start_server()
    assert cli(fleet.district, "build").code == 0
    t0 = time.time()
    fleet.district_config(slots, t0)
    (fleet.district / "schedule.toml").write_text((fleet.district / "schedule.toml").read_text() + groups)
    runs = {}
    for s in stations:
        fleet.station_config(s)
        runs[s] = Supervised(fleet.stations[s], tmp_path / f"{s}.daemon.log", pulse.env)
    hub = Supervised(fleet.district, tmp_path / "hub.daemon.log", pulse.env)
    console = None
    try:
        for r in [*runs.values(), hub]:
            r.start()
        r = cli(fleet.district, "publish")
        assert r.code == 0, r.err
        for s in stations:
            fleet.wait_for_log(s, "the hub's programme version")
        # (if this fails, the machine was too slow for the test's schedule: not a fault of what is tested)
        assert time.time() < t0 + FIRST - 4, f"the stations installed the programme {time.time() - t0:.1f} s after t0"

        def status() -> dict[str, dict]:
            out = cli(fleet.district, "fleet", "status", "--json")
            assert out.code == 0, out.err
            return {x["station"]: x for x in json.loads(out.out)}

        def wait_until(test, what: str, timeout: float = 90) -> dict[str, dict]:
            deadline = time.time() + timeout
            while True:
                st = status()
                if test(st):
                    return st
                assert time.time() < deadline, (what, {s: (x["software"], x["update"]) for s, x in st.items()},
                                                fleet.daemon_log("s1")[-3000:])
                time.sleep(2)   # (each look is a process of its own: not more load than needed)

        def running(st, names, version):
            return all(st[s]["online"] and st[s]["software"] == version and
                       st[s]["update"].get("state") in ("healthy", None) for s in names)

        # 1. to the group first: its two stations switch, between airings, and come up healthy
        r = cli(fleet.district, "fleet", "release", str(wheels[0].result()), "--to", "group:thi_diem",
                "--trial", "60s", "--quiet", QUIET)
        assert r.code == 0 and "s1, s2" in r.out, r.out + r.err
        st = wait_until(lambda st: running(st, ["s1", "s2"], good), "the group on the new version")
        assert all(st[s]["software"] == __version__ for s in ("s3", "s4")), st
        # 2. then to all
        r = cli(fleet.district, "fleet", "release", "promote")
        assert r.code == 0, r.out + r.err
        wait_until(lambda st: running(st, stations, good), "every station on the new version")
        out = cli(fleet.district, "fleet", "status").out
        assert f"{good} ×4" in out, out
        for s in stations:
            assert "switching to version" in fleet.daemon_log(s), fleet.daemon_log(s)[-2000:]

        # 3. a broken release: each station of the group that got it goes back to the version before
        r = cli(fleet.district, "fleet", "release", str(wheels[1].result()), "--to", "group:thi_diem",
                "--trial", "60s", "--quiet", QUIET, "--stop-at", "50%")
        assert r.code == 0, r.out + r.err
        add_user(fleet.district, "an", "viewer")   # (the console is started meanwhile)
        console = ConsoleServer(fleet.district, tmp_path / "web.log")
        st = wait_until(lambda st: any(st[s]["update"].get("state") == "rolled_back" for s in ("s1", "s2"))
                        and running(st, ["s3", "s4"], good), "a station rolled back")
        rolled = [s for s in ("s1", "s2") if st[s]["update"].get("state") == "rolled_back"]
        for s in rolled:
            assert st[s]["update"]["version"] == bad and "stopped 2 time(s)" in st[s]["update"]["reason"], st[s]
        # … and the hub stops the rollout: promote refuses, the others never get it
        deadline = time.time() + 20
        while "Stopped:" not in (out := cli(fleet.district, "fleet", "release", "status").out):
            assert time.time() < deadline, out
            time.sleep(1)
        r = cli(fleet.district, "fleet", "release", "promote")
        assert r.code != 0 and "stopped" in (r.out + r.err), r.out + r.err
        st = wait_until(lambda st: all(st[s]["online"] and st[s]["software"] == good for s in rolled),
                        "back on the version before")
        assert all(st[s]["update"].get("version") != bad for s in ("s3", "s4")), st
        for s in rolled:
            assert runs[s].exits[:2] == [3, 3], (runs[s].exits, fleet.daemon_log(s)[-3000:])
        # the console's overview says it too: versions per hub, and why a station went back
        viewer = console.client()
        assert viewer.login("an").status_code == 303
        page = viewer.get("/live").text
        assert f"{good} ×4" in page and f"update to {bad}: rolled_back: version {bad} stopped 2 time(s)" in page, page

        # every airing due until now played once, on time, each station's own measure of its first sample
        end = time.time() - 3
        deadline = time.time() + 20
        while True:
            rows = [x for x in json.loads(cli(fleet.district, "log", "--json").out) if x["station"]]
            due = {(s, int(t0 + FIRST + SPACING * k)) for s in stations for k in range(20)
                   if t0 + FIRST + SPACING * k < end}
            got = {(x["station"], round(_ts(x["scheduled"]))) for x in rows
                   if _ts(x["scheduled"]) < end and x["status"] != "playing"}   # (each airing's final row)
            if due <= got:
                break
            assert time.time() < deadline, sorted(due - got)
            time.sleep(1)
        bad_rows = [(x["station"], x["scheduled"], x["status"], x["start_error_ms"]) for x in rows
                    if _ts(x["scheduled"]) < end and (x["status"] != "played" or x["start_error_ms"] is None
                                                      or abs(x["start_error_ms"]) >= 100)]
        assert not bad_rows, bad_rows
    finally:
        if console is not None:
            console.stop()
        for r in [*runs.values(), hub]:
            r.stop()
        builds.shutdown()


def _ts(text: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(text).timestamp()
