"""Live voice: mouth-to-sink latency and dropouts, through the real path on a private PulseAudio.

    .venv/bin/python bench/live.py [SECONDS]      (default 120 s of speech for each link)

The "microphone" is the monitor of a null sink ("mic") that 2 minutes of speech-like audio (syllables
of noise, uneven) is played into; `broadcaster live --device mic_in` sends it to the daemon, which
plays it on zone A (a null sink). A PulseAudio loopback also copies the microphone straight into
zone A (its own latency: a few ms), so zone A's recording holds the voice twice: the delay between the
two copies — each 4 s of the source found twice in the recording by cross-correlation — is the
mouth-to-sink latency (less the loopback's few ms). Two links between the speaker and the daemon:
clean (loopback TCP), and through a proxy that holds each chunk 100 ms ± 50 ms (in order, as TCP
does). Prints latency p50/p95, dropouts (frames that came too late, gaps, as the play log says), and
the CPU the daemon used per second of voice.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.voice import RATE, LinkProxy, microphone, speaker, voice   # noqa: E402


def latencies(x: np.ndarray, source: np.ndarray, window: float = 4.0) -> list[float]:
    """Per 4 s of the ``source``: where it is in the recording ``x`` twice (the loopback's copy, the live
    one after it), by cross-correlation at 16 kHz (the band both copies share); their distance."""
    from scipy.signal import correlate, resample_poly
    y = resample_poly(x.astype(np.float64), 1, 3)
    src = resample_poly(source.astype(np.float64), 1, 3)
    rate, w = 16000, int(window * 16000)
    out = []
    for i in range(0, len(src) - w, w):
        chunk = src[i:i + w]
        c = correlate(y, chunk, mode="valid", method="fft")
        first = int(np.argmax(c))   # the stronger copy; the other is the strongest peak 20 ms … 2 s from it
        near = np.zeros_like(c, dtype=bool)
        near[max(0, first - 2 * rate):first - int(0.02 * rate)] = True
        near[first + int(0.02 * rate):first + 2 * rate] = True
        if not near.any():
            continue
        second = int(np.flatnonzero(near)[np.argmax(c[near])])
        if c[second] > 0.05 * c[first]:
            out.append(abs(first - second) / rate)
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run(seconds: float, pulse, project: Path, desk: dict, proxy: LinkProxy | None, daemon_pid: int) -> dict:
    from tests.pulse import Recorder
    (project / "state" / "live.json").write_text(json.dumps({**desk, "port": proxy.port if proxy else desk["port"]}))
    env = {**os.environ, **pulse.env, "LANG": "C.UTF-8"}
    tmp = Path(tempfile.mkdtemp())
    wav = tmp / "speech.raw"
    source = voice(seconds, seed=11, level=0.2)
    wav.write_bytes((source * 32767).astype("<i2").tobytes())
    rec = Recorder(pulse, "zone_a", tmp / "zone_a.raw")
    before = _cpu(daemon_pid)
    talker = speaker(project, pulse, "--zone", "za")
    time.sleep(1.0)
    t0 = time.monotonic()
    subprocess.run(["pacat", "--playback", "--device=mic", "--raw", "--format=s16le", "--channels=1",
                    f"--rate={RATE}", str(wav)], env=env, check=True)
    time.sleep(2.0)
    talker.communicate("\n", timeout=30)
    used = _cpu(daemon_pid) - before
    time.sleep(3.0)
    x = rec.stop()
    rows = json.loads(subprocess.run([sys.executable, "-m", "broadcaster", "log", "--json"], cwd=project,
                                     capture_output=True, text=True, env=env).stdout)
    row = [r for r in rows if (r["bulletin"] or "").startswith("live:")][-1]
    shutil.rmtree(tmp, ignore_errors=True)
    lat = latencies(x, source)
    return {"p50": pct(lat, 50), "p95": pct(lat, 95), "windows": len(lat), "row": row["reason"],
            "cpu": used / (time.monotonic() - t0)}


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 120.0
    from tests.pulse import PulseServer
    base = Path(tempfile.mkdtemp(prefix="bench-live-"))
    pulse = PulseServer(base / "pulse", ["zone_a"])
    microphone(pulse)
    pulse.pactl("load-module", "module-loopback", "source=mic.monitor", "sink=zone_a", "latency_msec=1")
    project = base / "project"
    project.mkdir()
    (project / "schedule.toml").write_text('timezone = "UTC"\n[zones.za]\ndevice = "zone_a"\n', encoding="utf-8")
    env = {**os.environ, **pulse.env, "LANG": "C.UTF-8"}
    daemon = subprocess.Popen([sys.executable, "-m", "broadcaster", "daemon"], cwd=project, env=env,
                              stdout=open(base / "daemon.log", "wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while not (project / "state" / "live.json").exists():
            if time.time() > deadline or daemon.poll() is not None:
                raise SystemExit((base / "daemon.log").read_text())
            time.sleep(0.2)
        desk = json.loads((project / "state" / "live.json").read_text())
        for name, proxy in (("clean loopback", None), ("proxy 100 ± 50 ms", LinkProxy(desk["port"], 0.1, 0.05))):
            r = run(seconds, pulse, project, desk, proxy, daemon.pid)
            print(f"{name:<20} mouth-to-sink p50 {r['p50'] * 1000:6.0f} ms   p95 {r['p95'] * 1000:6.0f} ms   "
                  f"({r['windows']} windows of 4 s)   daemon CPU {r['cpu'] * 100:4.1f} % of a core")
            print(f"{'':<20} play log: {r['row']}")
    finally:
        daemon.terminate()
        daemon.wait(20)
        pulse.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
