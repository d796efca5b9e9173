"""A district network for the tests: a real nats-server on 127.0.0.1 (config from `fleet init`),
a district project and station projects, each command run as its own process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import soundfile as sf

from tests.station import FREQS, SCRIPTS, tone

REPO = Path(__file__).resolve().parent.parent


def wait_for_port(port: int, proc: subprocess.Popen, what: str, seconds: float = 15, log: Path | None = None) -> None:
    """Until a server started as ``proc`` accepts connections on ``port`` (it must not exit first)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            assert proc.poll() is None, log.read_text() if log else f"{what} exited"
            assert time.monotonic() < deadline, f"{what} did not start"
            time.sleep(0.05)


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """n different free ports (held open together, so the system cannot hand out one twice)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class NatsServer:
    """nats-server run from the config `fleet init` wrote; stopped, killed and started again at will."""

    def __init__(self, conf: Path, port: int, log: Path):
        if not shutil.which("nats-server"):
            raise RuntimeError("nats-server not installed: apt-get install nats-server (make test does)")
        self.conf, self.port, self.log = conf, port, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["nats-server", "-c", str(self.conf)], stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc, "nats-server", log=self.log)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Out:
    code: int
    out: str
    err: str


def cli(root: Path, *args: str, env: dict | None = None, timeout: float = 120) -> Out:
    p = subprocess.run([sys.executable, "-m", "broadcaster", *args], cwd=root, capture_output=True, text=True,
                       env={**os.environ, "LANG": "C.UTF-8", **(env or {})}, timeout=timeout)
    return Out(p.returncode, p.stdout, p.stderr)


def when(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S")


class Fleet:
    """One district and its stations in tmp_path."""

    def __init__(self, tmp: Path, stations: dict[str, str]):
        self.tmp = tmp
        self.port = free_port()
        self.server_url = f"nats://127.0.0.1:{self.port}"
        self.district = tmp / "district"
        self.stations = {s: tmp / s for s in stations}
        self.devices = stations
        for root in [self.district, *self.stations.values()]:
            (root / "scripts").mkdir(parents=True)
            (root / "jingles").mkdir()
        for b, f in FREQS.items():
            sf.write(str(self.district / "jingles" / f"{b}.wav"), tone(f), 22050)
            (self.district / "scripts" / f"{b}.txt").write_text(SCRIPTS[b], encoding="utf-8")
        self.server: NatsServer | None = None
        self.daemons: dict[str, subprocess.Popen] = {}

    def district_config(self, slots: list[tuple[str, list[str], float, str]], t0: float) -> None:
        text = ['timezone = "UTC"', "[tts]", 'engine = "espeak"', "[audio]", 'format = "wav"', "sample_rate = 22050",
                "repeat = 1", "gap = 0.2", "[daemon]", 'grace = "10m"', "[fleet]", f'server = "{self.server_url}"']
        for b in FREQS:
            text += [f"[bulletins.{b}]", f'script = "scripts/{b}.txt"', f'jingle_in = "jingles/{b}.wav"']
        text += ["[zones.huyen]", 'name = "Đài huyện"', 'device = "default"']
        for s in self.stations:
            text += [f"[zones.{s}]", f'name = "Xã {s}"', f'station = "{s}"']
        for bulletin, zones, offset, priority in slots:
            text += ["[[slots]]", f'bulletin = "{bulletin}"', f"zones = {json.dumps(zones)}",
                     f'at = ["{when(t0 + offset)}"]', f'priority = "{priority}"']
        (self.district / "schedule.toml").write_text("\n".join(text) + "\n", encoding="utf-8")

    def init(self) -> Out:
        r = cli(self.district, "fleet", "init", "--listen", f"127.0.0.1:{self.port}")
        assert r.code == 0, r.err
        return r

    def start_server(self) -> NatsServer:
        self.server = NatsServer(self.district / "state" / "fleet" / "nats-server.conf", self.port,
                                 self.tmp / "nats.log")
        self.server.start()
        return self.server

    def station_config(self, s: str, extra: str = "") -> None:
        creds = self.stations[s] / f"{s}.toml"
        shutil.copy(self.district / "state" / "fleet" / "stations" / f"{s}.toml", creds)
        text = ['timezone = "UTC"', "[daemon]", 'grace = "10m"', "[fleet]", f'server = "{self.server_url}"',
                f'station = "{s}"', f'credentials = "{s}.toml"', "[fleet.devices]", f'{s} = "{self.devices[s]}"']
        (self.stations[s] / "schedule.toml").write_text("\n".join(text) + "\n" + extra, encoding="utf-8")

    def start_daemon(self, s: str, env: dict) -> subprocess.Popen:
        root = self.stations[s]
        log = open(self.tmp / f"{s}.daemon.log", "ab")
        p = subprocess.Popen([sys.executable, "-m", "broadcaster", "daemon"], cwd=root, stdout=log,
                             stderr=subprocess.STDOUT, env={**os.environ, "LANG": "C.UTF-8", **env})
        deadline = time.time() + 20
        while b"daemon started" not in (self.tmp / f"{s}.daemon.log").read_bytes():
            assert p.poll() is None, self.daemon_log(s)
            assert time.time() < deadline, self.daemon_log(s)
            time.sleep(0.1)
        self.daemons[s] = p
        return p

    def daemon_log(self, s: str) -> str:
        return (self.tmp / f"{s}.daemon.log").read_text(errors="replace")

    def wait_for_log(self, s: str, text: str, timeout: float = 20) -> None:
        deadline = time.time() + timeout
        while text not in self.daemon_log(s):
            assert time.time() < deadline, f"{text!r} not in the log of {s}:\n" + self.daemon_log(s)[-3000:]
            time.sleep(0.1)

    def close(self) -> None:
        for p in self.daemons.values():
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
        if self.server:
            self.server.stop()


@pytest.fixture
def make_fleet(tmp_path):
    made: list[Fleet] = []

    def make(stations: dict[str, str]) -> Fleet:
        f = Fleet(tmp_path, stations)
        made.append(f)
        return f
    yield make
    for f in made:
        f.close()
