"""A private PulseAudio server with null sinks: the real audio path, without a sound card.

sounddevice → PortAudio → ALSA → the ALSA pulse plugin → a null sink; ``parec``
on the sink's monitor records what was played. Each sink is a named ALSA device
(pcm.NAME { type pulse; device "NAME" }) in a private ~/.asoundrc.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np

PACKAGES = "pulseaudio pulseaudio-utils libasound2-plugins libportaudio2"


class PulseServer:
    def __init__(self, folder: Path, sinks: list[str]):
        missing = [p for p in ("pulseaudio", "pactl", "parec", "pacat") if not shutil.which(p)]
        if missing:
            raise RuntimeError(f"{', '.join(missing)} not installed: apt-get install {PACKAGES} (make test does)")
        self.folder = folder
        self.sinks = sinks
        run = folder / "run"
        home = folder / "home"
        run.mkdir(parents=True)
        home.mkdir()
        self.socket = run / "native"
        self.env = {"HOME": str(home), "PULSE_RUNTIME_PATH": str(run),
                    "PULSE_SERVER": f"unix:{self.socket}", "XDG_RUNTIME_DIR": str(run)}
        (home / ".asoundrc").write_text(
            "".join(f'pcm.{s} {{ type pulse; device "{s}" }}\n' for s in sinks)
            + "pcm.!default { type pulse }\nctl.!default { type pulse }\n")
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit=no",
             "--log-target=stderr", "--log-level=error",
             f"--load=module-native-protocol-unix auth-anonymous=1 socket={self.socket}"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(folder / "pulse.log", "wb"))
        deadline = time.monotonic() + 15
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("PulseAudio did not start: " + (folder / "pulse.log").read_text())
            time.sleep(0.05)
        for s in sinks:
            self.pactl("load-module", "module-null-sink", f"sink_name={s}", "rate=48000", "channels=1")

    def pactl(self, *args: str) -> str:
        return subprocess.run(["pactl", *args], env={**os.environ, **self.env}, check=True,
                              capture_output=True, text=True).stdout

    def apply_env(self, environ) -> None:
        """Point this process (and PortAudio, re-initialised) at the private server."""
        environ.update(self.env)
        import sounddevice as sd
        sd._terminate()
        sd._initialize()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Recorder:
    """Records a sink's monitor with parec while a silent stream keeps the sink's clock running."""

    RATE = 48000

    def __init__(self, server: PulseServer, sink: str, path: Path):
        env = {**os.environ, **server.env}
        self.path = path
        self.keepalive = subprocess.Popen(
            ["pacat", "--playback", f"--device={sink}", "--raw", "--format=s16le", "--channels=1",
             f"--rate={self.RATE}", "--latency-msec=50"], stdin=subprocess.PIPE, env=env)
        self._silence = bytes(self.RATE // 10 * 2)
        self.proc = subprocess.Popen(
            ["parec", f"--device={sink}.monitor", "--raw", "--format=s16le", "--channels=1",
             f"--rate={self.RATE}", "--latency-msec=20"], stdout=open(path, "wb"), env=env)

    def feed_silence(self, seconds: float) -> None:
        for _ in range(int(seconds * 10)):
            self.keepalive.stdin.write(self._silence)

    def stop(self) -> np.ndarray:
        for p in (self.proc, self.keepalive):
            p.terminate()
            p.wait(5)
        return np.frombuffer(self.path.read_bytes(), dtype="<i2").astype(np.float32) / 32768
