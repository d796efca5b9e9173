"""A speaker for the live-voice tests and bench/live.py: speech-like audio, a "microphone" on the private
PulseAudio, and the TCP link between the speaker and the daemon, which the test can cut or slow down."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from tests.pulse import Recorder

RATE = Recorder.RATE


def voice(seconds: float, seed: int = 3, level: float = 0.25) -> np.ndarray:
    """Speech-like test audio: bursts of noise like syllables, of uneven lengths and pauses (so that its
    envelope cross-correlates at one lag only)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    envelope = np.zeros(n, np.float32)
    at = 0
    while at < n:
        on = int(rng.uniform(0.08, 0.35) * RATE)
        envelope[at:at + on] = rng.uniform(0.4, 1.0)
        at += on + int(rng.uniform(0.05, 0.4) * RATE)
    return np.clip(rng.normal(0, level, n).astype(np.float32) * envelope, -0.9, 0.9)


def microphone(pulse) -> None:
    """A "mic" null sink whose monitor is the ALSA input mic_in: what is played into it is spoken."""
    if "mic" not in pulse.sinks:
        pulse.add_sink("mic")
    asoundrc = Path(pulse.env["HOME"]) / ".asoundrc"
    if "pcm.mic_in" not in asoundrc.read_text():
        with open(asoundrc, "a") as f:
            f.write('pcm.mic_in { type pulse; device "mic.monitor" }\n')


class LinkProxy:
    """A TCP proxy on 127.0.0.1 between the speaker and the daemon. Clearing ``open`` cuts the link (what is
    sent waits, as on a link that drops); ``delay`` ± ``spread`` seconds hold each chunk towards the daemon
    (``back``: each chunk coming back from it, as from a message server to its station), keeping the order
    (as TCP does)."""

    def __init__(self, port: int, delay: float = 0.0, spread: float = 0.0, back: bool = False):
        self.target, self.delay, self.spread, self.back = port, delay, spread, back
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                a, _addr = self.server.accept()
            except OSError:
                return
            try:
                b = socket.create_connection(("127.0.0.1", self.target))
            except OSError:   # the server behind it has stopped
                a.close()
                continue
            threading.Thread(target=self._pipe, args=(a, b, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(b, a, False), daemon=True).start()

    def _pipe(self, src, dst, towards_daemon: bool):
        last = 0.0
        try:
            while data := src.recv(4096):
                self.open.wait()
                if towards_daemon != self.back and self.delay:
                    due = max(last, time.monotonic() + self.delay + random.uniform(-self.spread, self.spread))
                    time.sleep(max(0.0, due - time.monotonic()))
                    last = due
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class Talker:
    """`broadcaster live` running: its stderr (the level meter, ten lines a second) read as it comes, so
    that a full pipe never stalls it (it would stop taking the microphone)."""

    def __init__(self, p: subprocess.Popen, said: str):
        self.p, self.said = p, [said]
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while chunk := self.p.stderr.read(256):
            self.said.append(chunk)

    def communicate(self, text: str, timeout: float):
        """Enter (``text``) for it, then (its stdout, all it said on stderr) once it has ended."""
        self.p.stdin.write(text)
        self.p.stdin.close()
        self.p.wait(timeout)
        self.reader.join(5)
        out = self.p.stdout.read()
        return out, "".join(self.said)

    def __getattr__(self, name):
        return getattr(self.p, name)


def speaker(root: Path, pulse, *args: str, log=lambda: "") -> Talker:
    """`broadcaster live ... --device mic_in` in the project ``root``, once it says it is on the air (an
    AssertionError with what it said, and ``log()``, if it does not within 20 s)."""
    env = {**os.environ, **pulse.env, "LANG": "C.UTF-8"}
    p = subprocess.Popen([sys.executable, "-m", "broadcaster", "live", *args, "--device", "mic_in"], cwd=root,
                         env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    said = ""
    while "On the air" not in said:
        said += p.stderr.read(1) if p.poll() is None else ""
        assert time.time() < deadline and p.poll() is None, said + log()[-2000:]
    return Talker(p, said)
