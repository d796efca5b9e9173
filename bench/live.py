"""Live voice: mouth-to-sink latency and dropouts, through the real path on a private PulseAudio.

    .venv/bin/python bench/live.py [SECONDS] [--network]   (default 120 s of speech for each link;
                                                            --network: the hub-to-station links only)

The "microphone" is the monitor of a null sink ("mic") that 2 minutes of speech-like audio (syllables
of noise, uneven) is played into; `broadcaster live --device mic_in` sends it to the daemon, which
plays it on zone A (a null sink). A PulseAudio loopback also copies the microphone straight into
zone A (its own latency: a few ms), so zone A's recording holds the voice twice: the delay between the
two copies — each 4 s of the source found twice in the recording by cross-correlation — is the
mouth-to-sink latency (less the loopback's few ms). Two links between the speaker and the daemon:
clean (loopback TCP), and through a proxy that holds each chunk 100 ms ± 50 ms (in order, as TCP
does). Prints latency p50/p95, dropouts (frames that came too late, gaps, as the play log says), and
the CPU the daemon used per second of voice.

Then the same over the network, as a hub speaks to a station below it: the speaker at the hub, the
hub's daemon sending Opus over a real nats-server, the station's daemon playing it on zone A; the
station's link to the server clean, then through the proxy (100 ms ± 50 ms on everything the server
sends it). CPU is the station's daemon's (and the hub's).
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


def run(seconds: float, pulse, project: Path, desk: dict | None, proxy: LinkProxy | None, daemon_pid: int,
        args: tuple = ("--zone", "za"), played: Path | None = None, hub_pid: int | None = None,
        jitter_from: float | None = None) -> dict:
    """``played``: the project whose play log has the row (the station's, over the network);
    ``jitter_from``: the ``proxy`` starts holding (100 ± 50 ms) that many seconds into the speech."""
    from tests.pulse import Recorder
    if desk is not None:
        (project / "state" / "live.json").write_text(json.dumps({**desk, "port": proxy.port if proxy else desk["port"]}))
    env = {**os.environ, **pulse.env, "LANG": "C.UTF-8"}
    tmp = Path(tempfile.mkdtemp())
    wav = tmp / "speech.raw"
    source = voice(seconds, seed=11, level=0.2)
    wav.write_bytes((source * 32767).astype("<i2").tobytes())
    rec = Recorder(pulse, "zone_a", tmp / "zone_a.raw")
    before, hub_before = _cpu(daemon_pid), _cpu(hub_pid) if hub_pid else 0.0
    talker = speaker(project, pulse, *args)
    time.sleep(1.0)
    t0 = time.monotonic()
    if jitter_from is not None:
        import threading
        threading.Timer(jitter_from, lambda: (setattr(proxy, "spread", 0.05), setattr(proxy, "delay", 0.1))).start()
    subprocess.run(["pacat", "--playback", "--device=mic", "--raw", "--format=s16le", "--channels=1",
                    f"--rate={RATE}", str(wav)], env=env, check=True)
    time.sleep(2.0)
    out, err = talker.communicate("\n", timeout=30)
    if "Warning" in err:
        print(err.split("Warning", 1)[1][:200])
    sent = out.split("Ended: ")[1].split(" s")[0] if "Ended: " in out else "?"
    used, hub_used = _cpu(daemon_pid) - before, (_cpu(hub_pid) - hub_before) if hub_pid else 0.0
    time.sleep(3.0)
    x = rec.stop()
    rows = json.loads(subprocess.run([sys.executable, "-m", "broadcaster", "log", "--json"], cwd=played or project,
                                     capture_output=True, text=True, env=env).stdout)
    row = [r for r in rows if (r["bulletin"] or "").startswith("live:")][-1]
    shutil.rmtree(tmp, ignore_errors=True)
    lat = latencies(x, source)
    reason = row["reason"]
    aired = float(reason.split(", ")[1].split(" s")[0])
    concealed = int(reason.split(" frame(s) concealed")[0].rsplit("; ", 1)[1]) if "concealed" in reason else 0
    longest = int(reason.split("at most ")[1].split(" ms")[0]) if concealed else 0
    gaps = float(reason.split("the longest ")[1].split(" s")[0]) if "the longest" in reason else 0.0
    return {"p50": pct(lat, 50), "p95": pct(lat, 95), "windows": len(lat), "row": reason, "sent": sent,
            "concealed": concealed, "share": concealed / max(1.0, aired / 0.02), "longest": max(longest / 1000, gaps),
            "cpu": used / (time.monotonic() - t0), "hub_cpu": hub_used / (time.monotonic() - t0)}


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_daemon(root: Path, env: dict, log: Path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-m", "broadcaster", "daemon"], cwd=root, env=env,
                         stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while b"daemon started" not in log.read_bytes():
        if time.time() > deadline or p.poll() is not None:
            raise SystemExit(log.read_text())
        time.sleep(0.2)
    return p


def report(name: str, r: dict, hub: bool = False) -> None:
    print(f"{name:<28} mouth-to-sink p50 {r['p50'] * 1000:6.0f} ms   p95 {r['p95'] * 1000:6.0f} ms   "
          f"({r['windows']} windows of 4 s)   {'station' if hub else 'daemon'} CPU {r['cpu'] * 100:4.1f} % of a core"
          + (f", hub {r['hub_cpu'] * 100:4.1f} %" if hub else ""))
    print(f"{'':<28} concealed {r['concealed']} frames ({r['share'] * 100:.2f} % of those aired), the longest "
          f"gap {r['longest'] * 1000:.0f} ms")
    print(f"{'':<28} sent {r['sent']} s; play log: {r['row']}")


def network(seconds: float, pulse, base: Path, env: dict) -> None:
    """A hub (nats-server, its daemon, the speaker) and one station below it playing zone A."""
    import soundfile as sf
    from tests.fleet import NatsServer, cli, free_port
    port = free_port()
    hub, station = base / "hub", base / "s1"
    for root in (hub, station):
        root.mkdir()
    sf.write(str(hub / "b.wav"), np.zeros(4410, np.float32), 44100)
    (hub / "schedule.toml").write_text("\n".join([
        'timezone = "UTC"', "[fleet]", f'server = "nats://127.0.0.1:{port}"', "[bulletins.b]", 'file = "b.wav"',
        "[zones.s1]", 'station = "s1"', "[[slots]]", 'bulletin = "b"', 'zones = ["s1"]', 'at = ["03:00"]']) + "\n")
    assert cli(hub, "fleet", "init", "--listen", f"127.0.0.1:{port}").code == 0
    server = NatsServer(hub / "state" / "fleet" / "nats-server.conf", port, base / "nats.log")
    server.start()
    daemons = []
    try:
        assert cli(hub, "publish").code == 0
        shutil.copy(hub / "state" / "fleet" / "stations" / "s1.toml", station / "s1.toml")
        for name, proxy, later in (("network, clean", None, None),
                                   ("network, proxy 100 ± 50 ms", LinkProxy(port, 0.1, 0.05, back=True), None),
                                   ("network, the same from 4 s", LinkProxy(port, 0.0, 0.0, back=True), 4.0)):
            (station / "schedule.toml").write_text("\n".join([
                'timezone = "UTC"', "[fleet]", f'server = "nats://127.0.0.1:{proxy.port if proxy else port}"',
                'station = "s1"', 'credentials = "s1.toml"', "[fleet.devices]", 's1 = "zone_a"']) + "\n")
            s = start_daemon(station, env, base / "s1.log")
            h = start_daemon(hub, env, base / "hub.log")
            daemons += [s, h]
            time.sleep(8)   # the station's programme (its zone) installed
            r = run(seconds, pulse, hub, None, proxy, s.pid, args=("--station", "s1"), played=station, hub_pid=h.pid,
                    jitter_from=later)
            report(name, r, hub=True)
            for p in (h, s):
                p.terminate()
                p.wait(20)
    finally:
        for p in daemons:
            if p.poll() is None:
                p.kill()
        server.stop()


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 120.0
    only_network = "--network" in sys.argv
    from tests.pulse import PulseServer
    base = Path(tempfile.mkdtemp(prefix="bench-live-"))
    pulse = PulseServer(base / "pulse", ["zone_a"])
    microphone(pulse)
    pulse.pactl("load-module", "module-loopback", "source=mic.monitor", "sink=zone_a", "latency_msec=1")
    project = base / "project"
    project.mkdir()
    (project / "schedule.toml").write_text('timezone = "UTC"\n[zones.za]\ndevice = "zone_a"\n', encoding="utf-8")
    env = {**os.environ, **pulse.env, "LANG": "C.UTF-8"}
    daemon = start_daemon(project, env, base / "daemon.log")
    try:
        desk = json.loads((project / "state" / "live.json").read_text())
        for name, proxy in (() if only_network else (("clean loopback", None),
                                                     ("proxy 100 ± 50 ms", LinkProxy(desk["port"], 0.1, 0.05)))):
            report(name, run(seconds, pulse, project, desk, proxy, daemon.pid))
        daemon.terminate()
        daemon.wait(20)
        network(seconds, pulse, base, env)
    finally:
        if daemon.poll() is None:
            daemon.terminate()
            daemon.wait(20)
        pulse.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
