"""A small station for the daemon tests: two zones on two null sinks, bulletins whose opening
jingle is a pure tone (so a recording tells them apart), `broadcaster daemon` run as a process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.pulse import Recorder, segments

FREQS = {"a": 440.0, "b": 880.0, "c": 1320.0, "d": 660.0}
SCRIPTS = {"a": "Xin chào bà con.", "b": "Thông báo khẩn của xã.", "c": "Lịch tiêm phòng gia súc.",
           "d": "Bản tin cuối ngày."}


def tone(freq: float, seconds: float = 0.4, rate: int = 22050) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


class Station:
    def __init__(self, project, pulse, tmp_path: Path):
        self.project = project
        self.pulse = pulse
        self.root = project.root
        self.tmp = tmp_path
        self.proc: subprocess.Popen | None = None
        self.recorders: dict[str, Recorder] = {}
        self.t0 = 0.0
        for b, f in FREQS.items():
            sf.write(str(self.root / "jingles" / f"{b}.wav"), tone(f), 22050)
            project.write(f"scripts/{b}.txt", SCRIPTS[b])

    def when(self, seconds: float) -> str:
        """A slot time ``seconds`` after t0, as HH:MM:SS in UTC (the station's time zone)."""
        return datetime.fromtimestamp(self.t0 + seconds, timezone.utc).strftime("%H:%M:%S")

    def configure(self, slots: list[tuple[str, list[str], float, str]], *, zones=None, repeat=None,
                  grace="10m", t0_in: float = 8.0, extra=None, zone_keys=None) -> None:
        """Bulletins a-d, the zones, and a slot per (bulletin, zones, seconds after t0, priority);
        ``extra(when)`` gives more lines (sources, relay slots), ``when`` as below; ``zone_keys`` more
        lines for a zone's table."""
        self.t0 = float(int(time.time() + t0_in))
        zones = zones or {"za": "zone_a", "zb": "zone_b"}
        repeat = repeat or {}
        text = ['timezone = "UTC"', "[tts]", 'engine = "espeak"', "[audio]", 'format = "wav"',
                "sample_rate = 44100", "repeat = 1", "gap = 0.2", "[daemon]", f'grace = "{grace}"']
        for b in FREQS:
            text += [f"[bulletins.{b}]", f'script = "scripts/{b}.txt"', f'jingle_in = "jingles/{b}.wav"',
                     f"repeat = {repeat.get(b, 1)}"]
        for z, dev in zones.items():
            text += [f"[zones.{z}]", f'device = "{dev}"', *(zone_keys or {}).get(z, [])]
        for bulletin, zs, offset, priority in slots:
            text += ["[[slots]]", f'bulletin = "{bulletin}"', f"zones = {json.dumps(zs)}",
                     f'at = ["{self.when(offset)}"]', f'priority = "{priority}"']
        text += extra(self.when) if extra else []
        self.project.write("schedule.toml", "\n".join(text) + "\n")

    def build(self) -> None:
        r = self.project.run("build")
        assert r.code == 0, r.err

    def file_segments(self, bulletin: str):
        data, rate = sf.read(str(self.root / "audio_out" / f"{bulletin}.wav"), dtype="float32")
        return segments(data, rate)

    def record(self, *sinks: str) -> None:
        for s in sinks:
            self.recorders[s] = Recorder(self.pulse, s, self.tmp / f"{s}.raw")

    def recordings(self) -> dict[str, list]:
        return {s: segments(r.stop()) for s, r in self.recorders.items()}

    def start(self) -> None:
        env = {**os.environ, **self.pulse.env}
        self.out = open(self.tmp / "daemon.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "broadcaster", "daemon"], cwd=self.root, env=env,
                                     stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while b"daemon started" not in (self.tmp / "daemon.log").read_bytes():
            assert self.proc.poll() is None, self.daemon_log()
            assert time.time() < deadline, self.daemon_log()
            time.sleep(0.1)

    def stop(self, sig=signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(15)

    def daemon_log(self) -> str:
        return (self.tmp / "daemon.log").read_text(errors="replace")

    def wait_until(self, offset: float) -> None:
        time.sleep(max(0.0, self.t0 + offset - time.time()))

    def log(self) -> list[dict]:
        r = self.project.run("log", "--json")
        assert r.code == 0, r.err
        return json.loads(r.out)


@pytest.fixture
def station(project, pulse, tmp_path, monkeypatch):
    for k, v in pulse.env.items():
        monkeypatch.setenv(k, v)
    s = Station(project, pulse, tmp_path)
    yield s
    if s.proc and s.proc.poll() is None:
        s.proc.kill()
        s.proc.wait()
    for r in s.recorders.values():
        if r.proc.poll() is None:
            r.stop()
