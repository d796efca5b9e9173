"""Live voice from a commune's hub to all its clusters at once: what one voice costs at 40–150 stations.

    .venv/bin/python bench/live_fanout.py [STATIONS] [SECONDS]      (default 150 stations, 30 s of speech)

A hub (its nats-server, its daemon) with STATIONS stations below it; `broadcaster live --all` speaks
into it from a PulseAudio "microphone". Each station is a client of the real server with that station's
own credentials (its permissions: its own live subject only), in this process, that checks every
message's signature and shape as a station's daemon does (`fleet.live.unpack`, `read_frames`) but plays
nothing (the playing end is measured by bench/live.py). Prints: the hub daemon's and the server's CPU
per second of voice; messages and bytes a second the server sends out; per station, whether every
frame came; how long after the first station the last one had a message (the fan-out's spread), p50/p95
over the messages; and the stations' CPU to check them, per station.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.live import _cpu, start_daemon   # noqa: E402
from tests.voice import RATE, microphone, speaker, voice   # noqa: E402


class Stations:
    """Every station's subscription, on one event loop in a thread."""

    def __init__(self, hub: Path, names: list[str], url: str):
        self.hub, self.names, self.url = hub, names, url
        self.got: dict[str, list[tuple[float, int, int]]] = {n: [] for n in names}   # (time, first frame, frames)
        self.bad = 0
        self.bytes = 0
        self.cpu = 0.0
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(120)

    async def _start(self):
        import nats
        import tomllib
        from broadcaster.fleet import live, names
        from broadcaster.fleet.signing import Verifier
        self.conns = []
        for n in self.names:
            data = tomllib.loads((self.hub / "state" / "fleet" / "stations" / f"{n}.toml").read_text())
            verifier = Verifier(data["keys"])
            nc = await nats.connect(self.url, user=data["user"], password=data["password"], name=n,
                                    inbox_prefix=names.inbox_prefix(n).encode())

            async def on(msg, n=n, verifier=verifier):
                t = time.monotonic()
                c0 = time.thread_time()
                self.bytes += len(msg.data)
                try:
                    _signer, kind, _sid, body = live.unpack(msg.data, verifier)
                    if kind == live.AUDIO:
                        frames = live.read_frames(body)
                        self.got[n].append((t, frames[0][0], len(frames)))
                except Exception:
                    self.bad += 1
                self.cpu += time.thread_time() - c0
            await nc.subscribe(names.live_subject(n), cb=on)
            self.conns.append(nc)

    def close(self):
        async def stop():
            for nc in self.conns:
                await nc.close()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    import soundfile as sf
    from tests.fleet import NatsServer, cli, free_port
    from tests.pulse import PulseServer
    base = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    pulse = PulseServer(base / "pulse", [])
    microphone(pulse)
    env = {**os.environ, **pulse.env, "LANG": "C.UTF-8"}
    port = free_port()
    hub = base / "hub"
    hub.mkdir()
    sf.write(str(hub / "b.wav"), np.zeros(4410, np.float32), 44100)
    names = [f"c{i:03d}" for i in range(1, count + 1)]
    (hub / "schedule.toml").write_text("\n".join([
        'timezone = "UTC"', "[fleet]", f'server = "nats://127.0.0.1:{port}"', "[bulletins.b]", 'file = "b.wav"',
        *[f'[zones.{n}]\nstation = "{n}"' for n in names],
        "[[slots]]", 'bulletin = "b"', f"zones = {json.dumps(names)}", 'at = ["03:00"]']) + "\n")
    r = cli(hub, "fleet", "init", "--listen", f"127.0.0.1:{port}")
    assert r.code == 0, r.err
    server = NatsServer(hub / "state" / "fleet" / "nats-server.conf", port, base / "nats.log")
    server.start()
    daemon = None
    try:
        r = cli(hub, "publish")
        assert r.code == 0, r.err
        stations = Stations(hub, names, f"nats://127.0.0.1:{port}")
        daemon = start_daemon(hub, env, base / "hub.log")
        source = voice(seconds, seed=11, level=0.2)
        raw = base / "speech.raw"
        raw.write_bytes((source * 32767).astype("<i2").tobytes())
        talker = speaker(hub, pulse, "--all", "--no-chime")
        time.sleep(1.0)
        t0, hub0, srv0, st0, bytes0 = time.monotonic(), _cpu(daemon.pid), _cpu(server.proc.pid), stations.cpu, \
            stations.bytes
        subprocess.run(["pacat", "--playback", "--device=mic", "--raw", "--format=s16le", "--channels=1",
                        f"--rate={RATE}", str(raw)], env=env, check=True)
        spoke = time.monotonic() - t0
        hub_cpu, srv_cpu = _cpu(daemon.pid) - hub0, _cpu(server.proc.pid) - srv0
        st_cpu, sent = stations.cpu - st0, stations.bytes - bytes0
        out, err = talker.communicate("\n", timeout=30)
        time.sleep(2.0)
        stations.close()
        # per message (by its first frame's number): when the first and the last station had it
        at: dict[int, list[float]] = {}
        for n in names:
            for t, first, _k in stations.got[n]:
                at.setdefault(first, []).append(t)
        whole = [k for k in at if len(at[k]) == count]
        spread = sorted(max(at[k]) - min(at[k]) for k in whole)
        frames = {n: sum(k for _t, _f, k in stations.got[n]) for n in names}
        most = max(frames.values())
        print(f"{count} stations, {spoke:.0f} s of voice ({out.strip().splitlines()[-1] if out.strip() else '?'})")
        print(f"  hub daemon CPU {hub_cpu / spoke * 100:5.1f} % of a core; nats-server {srv_cpu / spoke * 100:5.1f} %")
        print(f"  out of the server: {sum(len(v) for v in stations.got.values()) / spoke:6.0f} audio messages/s, "
              f"{sent / spoke / 1000:6.0f} kB/s to all ({sent / spoke / count * 8 / 1000:4.1f} kb/s a station)")
        print(f"  every frame at every station: {sum(1 for v in frames.values() if v == most)}/{count} "
              f"({most} frames); refused: {stations.bad}")
        print(f"  spread of a message over the stations: p50 {np.percentile(spread, 50) * 1000:5.1f} ms   "
              f"p95 {np.percentile(spread, 95) * 1000:5.1f} ms   ({len(whole)} messages every station had)")
        print(f"  a station's CPU to check what comes: {st_cpu / spoke / count * 100:6.3f} % of a core")
        if "Warning" in err:
            print("  the speaker said:", err.split("Warning", 1)[1][:300])
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.terminate()
            daemon.wait(20)
        server.stop()
        pulse.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
