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

    def add_sink(self, name: str) -> None:
        """A new null sink and its ALSA device, as when a USB sound card is plugged in."""
        self.pactl("load-module", "module-null-sink", f"sink_name={name}", "rate=48000", "channels=1")
        with open(Path(self.env["HOME"]) / ".asoundrc", "a") as f:
            f.write(f'pcm.{name} {{ type pulse; device "{name}" }}\n')
        self.sinks.append(name)

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
    """Records a sink's monitor with parec while a silent stream keeps the sink's clock running
    (a null sink with nothing playing skips idle time, and its monitor with it)."""

    RATE = 48000

    def __init__(self, server: PulseServer, sink: str, path: Path):
        env = {**os.environ, **server.env}
        self.path = path
        self.keepalive = subprocess.Popen(
            ["pacat", "--playback", f"--device={sink}", "--raw", "--format=s16le", "--channels=1",
             f"--rate={self.RATE}", "--latency-msec=50"], stdin=open("/dev/zero", "rb"),
            env=env)
        self.proc = subprocess.Popen(
            ["parec", f"--device={sink}.monitor", "--raw", "--format=s16le", "--channels=1",
             f"--rate={self.RATE}", "--latency-msec=20"], stdout=open(path, "wb"), env=env)
        self.started = time.monotonic()
        self.lost = 0.0   # after stop(): seconds of wall time the recording is shorter by (~2 s: the delay)

    def stop(self) -> np.ndarray:
        wall = time.monotonic() - self.started
        for p in (self.proc, self.keepalive):
            p.terminate()
            p.wait(5)
        x = np.frombuffer(self.path.read_bytes(), dtype="<i2").astype(np.float32) / 32768
        self.lost = round(wall - len(x) / self.RATE, 2)
        return x


def segments(x: np.ndarray, rate: int = Recorder.RATE, threshold: float = 0.02, gap: float = 0.8):
    """Sounding stretches of a recording: [(onset s, offset s, dominant frequency of the first 0.2 s)]."""
    loud = np.flatnonzero(np.abs(x) > threshold)
    out = []
    if len(loud) == 0:
        return out
    starts = [loud[0]]
    ends = []
    for a, b in zip(loud, loud[1:]):
        if b - a > gap * rate:
            ends.append(a)
            starts.append(b)
    ends.append(loud[-1])
    for s, e in zip(starts, ends):
        head = x[s:s + int(0.2 * rate)]
        spectrum = np.abs(np.fft.rfft(head * np.hanning(len(head))))
        freq = float(np.argmax(spectrum) * rate / len(head))
        out.append((s / rate, e / rate, freq))
    return out


def tone_onset(x: np.ndarray, freq: float, rate: int = Recorder.RATE, after: float = 0.0,
               hop: float = 0.005) -> float | None:
    """When a pure tone of ``freq`` first sounds (dominating its 20 ms window), in seconds."""
    win, hop = int(0.02 * rate), max(1, int(hop * rate))
    t = np.arange(win) / rate
    probe = np.exp(-2j * np.pi * freq * t) * np.hanning(win)
    for start in range(int(after * rate), len(x) - win, hop):
        w = x[start:start + win]
        power = np.abs(np.dot(w, probe)) / (win / 4)
        if power > 0.05 and power > 0.7 * np.sqrt(np.mean(w ** 2)) * 1.41:
            return start / rate
    return None


def tone_onsets(x: np.ndarray, freq: float, rate: int = Recorder.RATE, min_gap: float = 0.5) -> list[float]:
    """Every time a pure tone of ``freq`` starts to sound (dominating its 20 ms window), in seconds."""
    win, hop = int(0.02 * rate), int(0.005 * rate)
    n = max(0, (len(x) - win) // hop)
    if n == 0:
        return []
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop][:n]
    t = np.arange(win) / rate
    probe = np.exp(-2j * np.pi * freq * t) * np.hanning(win)
    power = np.abs(frames @ probe) / (win / 4)
    rms = np.sqrt(np.mean(frames ** 2, axis=1))
    on = (power > 0.05) & (power > 0.7 * rms * 1.41)
    out: list[float] = []
    for i in np.flatnonzero(on & ~np.concatenate([[False], on[:-1]])):
        if not out or i * hop / rate - out[-1] >= min_gap:
            out.append(i * hop / rate)
    return out


def remove_sink(server: PulseServer, name: str) -> None:
    """Unload a null sink, as when a USB sound card is pulled out (its ALSA name stays configured)."""
    for line in server.pactl("list", "short", "modules").splitlines():
        if f"sink_name={name}" in line:
            server.pactl("unload-module", line.split()[0])


def restore_sink(server: PulseServer, name: str) -> None:
    """The same card plugged back in."""
    server.pactl("load-module", "module-null-sink", f"sink_name={name}", "rate=48000", "channels=1")
