"""Proof of air: what monitoring costs, and how much noise confirmation stands (run by hand:
python bench/monitor.py [MINUTES] [ZONES], default 10 minutes on 2 zones; needs pulseaudio and
espeak-ng, as `make test` installs).

1. Noise: a spoken bulletin (espeak-ng) against what a monitor would hear of it: 0.2 × the audio,
   0.7 s later, plus white noise or babble (other speech) at a given SNR (power of the heard speech
   over the noise's, whole band). For each SNR, three noise draws through the real reducer and
   matcher (``audio.proof``); printed: the verdicts and scores, and the smallest SNR at which all
   three are still confirmed.
2. Cost: a private PulseAudio, ZONES null sinks, one daemon airing a MINUTES-long spoken bulletin
   on every zone at once: once without monitors, once with each zone's sink monitor as its monitor
   input. Printed: the daemon's CPU over the airing (share of one core) and its memory at the start,
   end and peak of each run, and the difference per monitored zone; and the verdicts in the play log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from broadcaster.audio.proof import Envelope, match  # noqa: E402
from onair import cpu_seconds, hhmmss  # noqa: E402
from relay import rss_mb  # noqa: E402
from tests.pulse import PulseServer, Recorder  # noqa: E402

TEXT = ("Thông báo của Ủy ban nhân dân xã về việc cài đặt ứng dụng Bluezone trên điện thoại thông minh. "
        "Đề nghị toàn thể bà con nhân dân cài đặt ứng dụng để phòng chống dịch bệnh. "
        "Xin trân trọng cảm ơn bà con. ")


def envelope(x: np.ndarray, rate: int, t0: float):
    e = Envelope(rate, len(x) / rate + 10)
    for i in range(0, len(x), 1024):
        e.feed(x[i:i + 1024], t0 + i / rate)
    return e.track.span(0, 1e12)


def noise_part(tmp: Path) -> None:
    wav = tmp / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(wav), TEXT * 3], check=True)
    x, rate = sf.read(str(wav), dtype="float32")
    sent = envelope(x, rate, 1000.0)
    heard_clean = np.concatenate([np.zeros(int(0.7 * rate), np.float32), 0.2 * x, np.zeros(3 * rate, np.float32)])
    power = float(np.mean((0.2 * x) ** 2))
    print(f"1. noise: a {len(x) / rate:.0f} s spoken bulletin, heard at 0.2x, 0.7 s later, plus noise "
          "(3 draws per SNR)")
    for kind in ("white", "babble"):
        lowest = None
        print(f"   {kind} noise:")
        for snr in np.arange(10.0, -27.5, -2.5):
            verdicts, scores = [], []
            for seed in range(3):
                rng = np.random.default_rng(seed)
                if kind == "white":
                    n = rng.normal(0, 1, len(heard_clean))
                else:   # other speech: the bulletin reversed and shifted, three voices over each other
                    n = sum(np.roll(np.resize(x[::-1], len(heard_clean)), rng.integers(len(x))) for _ in range(3))
                n = n * np.sqrt(power / 10 ** (snr / 10) / np.mean(n ** 2))
                m = match(sent, envelope((heard_clean + n).astype(np.float32), rate, 1000.0))
                verdicts.append(m.verdict)
                scores.append(m.score)
            ok = all(v == "confirmed" for v in verdicts)
            if ok:
                lowest = snr
            print(f"   {snr:+6.1f} dB  {' '.join(f'{v:<9}' for v in verdicts)}  scores "
                  f"{' '.join(f'{s:.2f}' for s in scores)}")
            if not any(v == "confirmed" for v in verdicts):
                break
        print(f"   smallest SNR still confirmed (all draws), {kind}: "
              + (f"{lowest:+.1f} dB" if lowest is not None else "none"))


def cost_run(server: PulseServer, tmp: Path, name: str, zones: list[str], minutes: float, monitored: bool) -> dict:
    root = tmp / name
    (root / "scripts").mkdir(parents=True)
    sentences = int(minutes * 60 / 10) + 1   # espeak-ng reads TEXT in about 10 s
    (root / "scripts" / "a.txt").write_text("\n\n".join([TEXT] * sentences), encoding="utf-8")
    zone_text = "".join(f'[zones.{z}]\ndevice = "{z}"\n' + (f'monitor = "{z}_in"\n' if monitored else "")
                        for z in zones)
    env = {**os.environ, **server.env}
    (root / "schedule.toml").write_text(
        f'timezone = "UTC"\n[tts]\nengine = "espeak"\n[audio]\nformat = "wav"\nrepeat = 1\ngap = 0.2\n'
        f'[bulletins.a]\nscript = "scripts/a.txt"\n{zone_text}', encoding="utf-8")
    subprocess.run([sys.executable, "-m", "broadcaster", "build"], cwd=root, env=env, capture_output=True, check=True)
    length = sf.info(str(root / "audio_out" / "a.wav")).duration
    t0 = int(time.time()) + 12
    with open(root / "schedule.toml", "a", encoding="utf-8") as f:
        f.write(f'[[slots]]\nbulletin = "a"\nzones = {json.dumps(zones)}\nat = [{hhmmss([t0])}]\n')
    recs = [Recorder(server, z, tmp / f"{name}-{z}.raw") for z in zones]   # keeps each sink's clock running
    proc = subprocess.Popen([sys.executable, "-m", "broadcaster", "daemon"], cwd=root, env=env,
                            stdout=open(tmp / f"{name}.log", "wb"), stderr=subprocess.STDOUT)
    try:
        time.sleep(max(0, t0 + 3 - time.time()))
        cpu0, w0 = cpu_seconds(proc.pid), time.time()
        mem0 = peak = rss_mb(proc.pid)
        end = t0 + length - 2
        while time.time() < end:
            time.sleep(min(10, max(0, end - time.time())))
            peak = max(peak, rss_mb(proc.pid))
        cpu, wall, mem1 = cpu_seconds(proc.pid) - cpu0, time.time() - w0, rss_mb(proc.pid)
        time.sleep(max(0, t0 + length + 6 - time.time()))   # the verdicts come once the monitor heard the end
        log = json.loads(subprocess.run([sys.executable, "-m", "broadcaster", "log", "--json"], cwd=root, env=env,
                                        capture_output=True, text=True, check=True).stdout)
    finally:
        proc.terminate()
        proc.wait(15)
        for r in recs:
            r.stop()
            r.path.unlink()
    return {"cpu": 100 * cpu / wall, "wall": wall, "mem": (mem0, mem1, peak), "length": length,
            "rows": [(r["zone"], r["status"], r["heard"], r["heard_delay_ms"], r["heard_score"]) for r in log]}


def cost_part(tmp: Path, minutes: float, n: int) -> None:
    zones = [f"m{i + 1}" for i in range(n)]
    server = PulseServer(tmp / "pulse", list(zones))
    home = Path(server.env["HOME"])
    with open(home / ".asoundrc", "a") as f:
        f.writelines(f'pcm.{z}_in {{ type pulse; device "{z}.monitor" }}\n' for z in zones)
    server.apply_env(os.environ)
    try:
        runs = {m: cost_run(server, tmp, "with" if m else "without", zones, minutes, m) for m in (False, True)}
    finally:
        server.stop()
    a, b = runs[False], runs[True]
    print(f"2. cost: a {a['length'] / 60:.1f}-minute spoken bulletin on {n} zones at once, one daemon")
    for label, r in (("without monitors", a), (f"with {n} monitors", b)):
        print(f"   {label:<18} CPU {r['cpu']:5.1f} % of one core over {r['wall']:.0f} s; memory start "
              f"{r['mem'][0]:.0f} MB, end {r['mem'][1]:.0f} MB, peak {r['mem'][2]:.0f} MB")
    print(f"   per monitored zone: CPU {(b['cpu'] - a['cpu']) / n:+.1f} % of one core, "
          f"memory {(b['mem'][2] - a['mem'][2]) / n:+.0f} MB at peak")
    for zone, status, heard, delay, score in b["rows"]:
        print(f"   {zone}: {status}, {heard}, delay {delay} ms, score {score}")


def main() -> None:
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    zones = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    with tempfile.TemporaryDirectory() as t:
        noise_part(Path(t))
        cost_part(Path(t), minutes, zones)


if __name__ == "__main__":
    main()
