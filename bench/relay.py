"""A relay's start offset and cost (run by hand: python bench/relay.py [MINUTES], default 60;
needs pulseaudio and icecast2, as `make test` installs).

A private Icecast2 on 127.0.0.1 carries a live 1 kHz tone (ffmpeg, MP3 96 kb/s, in real time); a
daemon relays it on one zone (a null sink, recorded) for MINUTES. Printed: when the relay's first
sound left against its slot time (from the recording, against a reference click on the same sink;
and the daemon's own measured `start_error_ms`), the CPU of the daemon and of its ffmpeg decoder
over the relay (share of one core), and their memory at the start and at the end (flat or growing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import onair  # noqa: E402
from onair import RATE, cpu_seconds, hhmmss, onsets, start_daemon, station, tone  # noqa: E402
from tests.icecast import Icecast  # noqa: E402
from tests.pulse import PulseServer  # noqa: E402


def children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, IndexError):
                continue
    return out


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))) / 1024


def main() -> None:
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        server = PulseServer(tmp / "pulse", ["zr"])
        server.apply_env(os.environ)
        onair.CLICK = tmp / "click.wav"
        sf.write(str(onair.CLICK), tone(2000, 0.2), RATE)
        ice = Icecast(tmp / "icecast")
        try:
            ice.feed("vov1", 1000.0)
            root = tmp / "station"
            t0 = int(time.time()) + 15
            station(root, ["zr"], f'[sources.vov1]\nurl = "{ice.url("vov1")}"\n'
                    f'[[slots]]\nsource = "vov1"\nzones = ["zr"]\nat = [{hhmmss([t0])}]\nduration = "{minutes}m"\n')
            proc, recs, t_ref = start_daemon(server, root, tmp, ["zr"], t0)
            time.sleep(max(0, t0 + 5 - time.time()))
            kids = children(proc.pid)
            cpu0 = cpu_seconds(proc.pid) + sum(cpu_seconds(k) for k in kids)
            mem0 = (rss_mb(proc.pid), sum(rss_mb(k) for k in kids))
            w0 = time.time()
            end = t0 + minutes * 60 - 5
            peak = mem0
            while time.time() < end:
                time.sleep(min(30, max(0, end - time.time())))
                peak = max(peak, (rss_mb(proc.pid), sum(rss_mb(k) for k in children(proc.pid))))
            kids = children(proc.pid)
            cpu = cpu_seconds(proc.pid) + sum(cpu_seconds(k) for k in kids) - cpu0
            mem1 = (rss_mb(proc.pid), sum(rss_mb(k) for k in kids))
            wall = time.time() - w0
            time.sleep(max(0, t0 + minutes * 60 + 3 - time.time()))
            x = recs["zr"].stop()
            proc.terminate()
            proc.wait(15)
            ref = onsets(x, 2000, 1)[0]
            first = onsets(x, 1000, 1)[0]
            log = json.loads(subprocess.run([sys.executable, "-m", "broadcaster", "log", "--json"], cwd=root,
                                            env={**os.environ, **server.env}, capture_output=True, text=True,
                                            check=True).stdout)
            row = log[0]
            print(f"relay of {minutes:g} min: status {row['status']}, relayed {row['relayed_s']} s, "
                  f"fallback {row['fallback_s']} s")
            print(f"start offset from the recording  {((first - ref) - (t0 - t_ref)) * 1000:8.1f} ms "
                  f"(the 0.3 s fade-in's first audible sample)")
            print(f"start_error_ms in the play log   {row['start_error_ms']:8.1f} ms")
            print(f"CPU, daemon + ffmpeg             {100 * cpu / wall:8.1f} % of one core over {wall:.0f} s")
            print(f"memory, daemon / ffmpeg (MB)     start {mem0[0]:.0f} / {mem0[1]:.0f}, "
                  f"end {mem1[0]:.0f} / {mem1[1]:.0f}, peak {peak[0]:.0f} / {peak[1]:.0f}")
        finally:
            ice.stop()
            server.stop()


if __name__ == "__main__":
    main()
