"""systemd's watchdog (issue 40, item 5): under systemd the daemon says it is ready, then that it is alive,
only while its zones' workers and its sound outputs are. A real daemon plays into a null sink with
``$NOTIFY_SOCKET`` a socket of the test's; its PulseAudio is frozen (SIGSTOP) while the zone plays, so the
output stops taking audio: the "alive" messages stop and the status says why (systemd would restart it);
thawed, they come again. Stopping says so."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest

pytestmark = pytest.mark.audio


class Manager:
    """What systemd's end of $NOTIFY_SOCKET would receive, with when."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.got: list[tuple[float, str]] = []
        self.done = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while not self.done.is_set():
            try:
                data = self.sock.recv(4096)
            except OSError:
                continue
            self.got += [(time.monotonic(), line) for line in data.decode().splitlines()]

    def pings(self, since: float, until: float = float("inf")) -> int:
        return sum(1 for t, m in self.got if m == "WATCHDOG=1" and since <= t < until)

    def wait(self, line: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not any(m.startswith(line) for _t, m in self.got):
            assert time.monotonic() < deadline, (line, self.got[-10:])
            time.sleep(0.05)


def test_the_daemon_tells_systemd_it_is_alive_only_while_its_sound_output_is(station, tmp_path, monkeypatch):
    manager = Manager(tmp_path / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")   # alive twice a second
    station.configure([("a", ["za"], 2, "normal")], repeat={"a": 12}, t0_in=2)
    station.build()
    station.start()
    frozen = False
    try:
        manager.wait("READY=1")
        deadline = time.time() + 20
        while "zone za: playing a" not in station.daemon_log():
            assert time.time() < deadline, station.daemon_log()[-2000:]
            time.sleep(0.1)
        time.sleep(1.5)
        assert manager.pings(time.monotonic() - 1.5) >= 2, manager.got[-10:]   # alive while it plays
        os.kill(station.pulse.proc.pid, signal.SIGSTOP)   # the sound server stops: the output takes nothing
        frozen, at = True, time.monotonic()
        time.sleep(6.0)
        os.kill(station.pulse.proc.pid, signal.SIGCONT)
        frozen = False
        assert manager.pings(at + 4.0, at + 6.0) == 0, manager.got[-20:]   # stuck: no "alive" (3 s allowed)
        assert any("sound output has not taken audio" in m for t, m in manager.got if t > at), manager.got[-20:]
        assert "not telling systemd" in station.daemon_log()
        time.sleep(2.0)
        assert manager.pings(at + 6.5) >= 2, manager.got[-10:]   # well again: alive again
    finally:
        if frozen:
            os.kill(station.pulse.proc.pid, signal.SIGCONT)
        code = station.stop()
        manager.done.set()
    assert code == 0
    manager.wait("STOPPING=1", 5)
