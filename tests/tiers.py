"""A network of three levels for the tests, all real processes on 127.0.0.1: a province hub whose
message server is a cluster of three nats-servers (the configs its `fleet init` wrote), commune hubs
whose accounts live on those servers, and loudspeaker clusters (stations with one zone each)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import soundfile as sf

from tests.fleet import NatsServer, cli, free_ports, when
from tests.station import FREQS, SCRIPTS, tone

AUDIO = ["[tts]", 'engine = "espeak"', "[audio]", 'format = "wav"', "sample_rate = 22050", "repeat = 1", "gap = 0.2"]


class Node:
    """One project (a hub, a station or both) and its daemon."""

    def __init__(self, tree: "Tree", name: str):
        self.tree, self.name = tree, name
        self.root = tree.tmp / name
        (self.root / "scripts").mkdir(parents=True)
        (self.root / "jingles").mkdir()
        self.daemon: subprocess.Popen | None = None
        self.log = tree.tmp / f"{name}.daemon.log"

    def bulletins(self, *ids: str) -> list[str]:
        out = []
        for b in ids:
            sf.write(str(self.root / "jingles" / f"{b}.wav"), tone(FREQS[b]), 22050)
            (self.root / "scripts" / f"{b}.txt").write_text(SCRIPTS[b], encoding="utf-8")
            out += [f"[bulletins.{b}]", f'script = "scripts/{b}.txt"', f'jingle_in = "jingles/{b}.wav"']
        return out

    def write(self, lines: list[str]) -> None:
        (self.root / "schedule.toml").write_text("\n".join(['timezone = "UTC"', "[daemon]", 'grace = "10m"', *lines])
                                                 + "\n", encoding="utf-8")

    def credentials_from(self, hub: "Node") -> list[str]:
        """The file the hub made for this station, copied here, and the [fleet] lines naming it."""
        shutil.copy(hub.root / "state" / "fleet" / "stations" / f"{self.name}.toml", self.root / f"{self.name}.toml")
        return [f'station = "{self.name}"', f'credentials = "{self.name}.toml"']

    def cli(self, *args: str, timeout: float = 120):
        return cli(self.root, *args, timeout=timeout)

    def spawn(self, *args: str) -> subprocess.Popen:
        """A command left running (communicate() for its output)."""
        return subprocess.Popen([sys.executable, "-m", "broadcaster", *args], cwd=self.root, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "LANG": "C.UTF-8"})

    def start(self, env: dict) -> None:
        out = open(self.log, "ab")
        self.daemon = subprocess.Popen([sys.executable, "-m", "broadcaster", "daemon"], cwd=self.root, stdout=out,
                                       stderr=subprocess.STDOUT, env={**os.environ, "LANG": "C.UTF-8", **env})

    def started(self, timeout: float = 30) -> None:
        self.wait_for("daemon started", timeout)

    def stop(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(15)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
        self.daemon = None

    def memory_mb(self) -> tuple[float, float] | None:
        """The daemon's resident memory now and at its peak (Linux), in MB."""
        try:
            status = dict(line.split(":", 1) for line in
                          Path(f"/proc/{self.daemon.pid}/status").read_text().splitlines() if ":" in line)
            return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024
        except (AttributeError, OSError, KeyError):
            return None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, text: str, timeout: float = 30, count: int = 1) -> None:
        deadline = time.time() + timeout
        while self.text().count(text) < count:
            assert self.daemon is None or self.daemon.poll() is None, self.text()[-3000:]
            assert time.time() < deadline, f"{text!r} not in the log of {self.name}:\n" + self.text()[-3000:]
            time.sleep(0.1)

    def json(self, *args: str):
        r = self.cli(*args)
        assert r.code == 0, r.err
        return json.loads(r.out)


class Tree:
    """The province, its communes and their clusters, in tmp."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        ports = free_ports(6)
        self.ports, self.routes = ports[:3], ports[3:]
        self.server = ",".join(f"nats://127.0.0.1:{p}" for p in self.ports)
        self.servers: list[NatsServer] = []
        self.nodes: dict[str, Node] = {}

    def node(self, name: str) -> Node:
        self.nodes[name] = Node(self, name)
        return self.nodes[name]

    def init(self, node: Node):
        r = node.cli("fleet", "init", "--bind", "127.0.0.1", *(a for p in self.routes for a in ("--route-port", str(p))))
        assert r.code == 0, r.err
        return r

    def start_servers(self, province: Node) -> None:
        folder = province.root / "state" / "fleet"
        for i, port in enumerate(self.ports):
            s = NatsServer(folder / f"nats-server-{i + 1}.conf", port, self.tmp / f"nats-{i + 1}.log")
            s.start()
            self.servers.append(s)
        self.wait_for_jetstream(province)

    def wait_for_jetstream(self, province: Node, timeout: float = 30) -> None:
        """Until the cluster has elected its JetStream leader (publish answers)."""
        deadline = time.time() + timeout
        while True:
            r = province.cli("fleet", "status", "--json")
            if r.code == 0:
                return
            assert time.time() < deadline, r.err
            time.sleep(0.5)

    def leader(self, province: Node, stream: str) -> int:
        """The index in ``servers`` of the server that leads ``stream`` of the province's account now."""
        import asyncio
        from broadcaster.config import load_config
        from broadcaster.fleet.client import Link
        from broadcaster.fleet.credentials import hub_credentials

        async def ask() -> str:
            link = Link(hub_credentials(load_config(province.root / "schedule.toml")))
            await link.connect(name="test")
            try:
                return (await link.js.stream_info(stream)).cluster.leader
            finally:
                await link.close()
        return int(asyncio.run(ask()).rsplit("-", 1)[1]) - 1

    def close(self) -> None:
        for n in self.nodes.values():
            n.stop()
        for s in self.servers:
            s.stop()


def programme_lines(server: str, hub_id: str | None = None) -> list[str]:
    return ["[fleet]", f'server = "{server}"', *([f'id = "{hub_id}"'] if hub_id else [])]


def slot(bulletin: str, zones: list[str], t: float, priority: str = "normal") -> list[str]:
    return ["[[slots]]", f'bulletin = "{bulletin}"', f"zones = {json.dumps(zones)}", f'at = ["{when(t)}"]',
            f'priority = "{priority}"']


def one_of_each(tree: Tree, slots: list[str], env: dict) -> tuple[Node, Node, Node]:
    """The smallest tree: province tinh, its commune xa_1 (the province's zone cum_1 goes to it) and the
    commune's cluster cum_1 (playing on the null sink zone_a) with the commune's ``slots`` lines;
    the servers and the three daemons started, the commune's programme installed at the cluster."""
    province = tree.node("tinh")
    province.write([*AUDIO, *programme_lines(tree.server, "tinh"), "[zones.cum_1]", 'station = "xa_1"'])
    tree.init(province)
    commune = tree.node("xa_1")
    commune.write([*AUDIO, *programme_lines(tree.server), *commune.credentials_from(province), *commune.bulletins("b"),
                   "[zones.cum_1]", 'station = "cum_1"', *slots])
    tree.init(commune)
    (province.root / "state" / "fleet" / "accounts").mkdir()
    (province.root / "state" / "fleet" / "accounts" / "xa_1.json").write_bytes(
        (commune.root / "state" / "fleet" / "account.json").read_bytes())
    tree.init(province)
    tree.start_servers(province)
    cluster = tree.node("cum_1")
    cluster.write([*programme_lines(tree.server), *cluster.credentials_from(commune), "[fleet.devices]",
                   'cum_1 = "zone_a"'])
    assert commune.cli("publish").code == 0
    for n in (cluster, commune, province):
        n.start(env)
        n.started()
    cluster.wait_for("the hub's programme version", 60)
    return province, commune, cluster

