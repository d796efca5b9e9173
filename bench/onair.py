"""On-air timing and memory (run by hand: python bench/onair.py; needs pulseaudio, as `make test` installs).

Starts a private PulseAudio with a null sink, records its monitor, and prints:
1. the daemon: 20 scheduled airings (3 s apart) of a short bulletin, start error of each
   against a reference click played in the same recording: median and max;
2. the same mechanism on a long bulletin (5 minutes of MP3): prepared ahead (the daemon's
   Playback; 20 starts, from the recording) against naive playback (decode the file at fire
   time, then sd.play; 20 starts, by the wall clock plus the stream's latency);
   `python bench/onair.py daemon|mechanism|rss` runs one part;
3. the daemon's peak RSS while playing a 60-minute bulletin and a 1-minute one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.pulse import PulseServer, Recorder, tone_onset  # noqa: E402

RATE = 44100


def tone(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def long_bulletin(path: Path, minutes: float) -> None:
    """A long file that opens with a 1 kHz tone, then quiet noise (cheap to make, costly to decode)."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(str(path), "w", RATE, 1, format="MP3" if path.suffix == ".mp3" else "WAV") as f:
        f.write(tone(1000, 0.3))
        for _ in range(int(minutes * 6)):
            f.write((rng.standard_normal(RATE * 10) * 0.01).astype(np.float32))


def onsets(x: np.ndarray, freq: float, count: int) -> list[float]:
    out, after = [], 0.0
    for _ in range(count):
        t = tone_onset(x, freq, after=after, hop=0.001)
        if t is None:
            break
        out.append(t)
        after = t + 0.5
    return out


def errors(found: list[float], ref: float, targets: list[float], t_ref: float) -> list[float]:
    return [abs((o - ref) - (t - t_ref)) * 1000 for o, t in zip(found, targets)]


def summary(name: str, errs: list[float]) -> None:
    print(f"{name:<44} n={len(errs):2d}  median {np.median(errs):7.1f} ms   max {max(errs):7.1f} ms")


def reference_click(device: int, when: float) -> None:
    from broadcaster.audio.player import Playback
    p = Playback(device, CLICK)
    p.start_at(when)
    threading.Thread(target=lambda: (p.wait(5), p.close()), daemon=True).start()


def mechanism(server: PulseServer, tmp: Path) -> None:
    """Prepared Playback against naive decode-then-play, on a 10-minute MP3."""
    import sounddevice as sd
    from broadcaster.audio.player import Playback, find_output
    path = tmp / "long.mp3"
    long_bulletin(path, 5)
    dev = find_output("bench").index
    rec = Recorder(server, "bench", tmp / "mech.raw")
    time.sleep(1)
    t_ref = time.time() + 1.5
    reference_click(dev, t_ref)
    targets = [t_ref + 4 + 5 * i for i in range(20)]
    for t in targets:
        time.sleep(max(0, t - 3 - time.time()))
        p = Playback(dev, path)
        p.start_at(t)
        time.sleep(max(0, t + 1.0 - time.time()))
        p.close()
    time.sleep(1)
    x = rec.stop()
    [ref] = onsets(x, 2000, 1)
    summary("prepared (daemon's Playback), from recording", errors(onsets(x, 1000, 20), ref, targets, t_ref))
    # The naive way, timed by the wall clock: sd.play/sd.stop open and abort a stream each time,
    # which upsets a null sink's monitor timeline, so its recording cannot be trusted for this.
    late = []
    for i in range(20):
        t = time.time() + 0.5
        time.sleep(max(0, t - time.time()))
        data, rate = sf.read(str(path), dtype="float32")
        sd.play(data, rate, device=dev, latency="high")
        late.append((time.time() - t + sd.get_stream().latency) * 1000)
        time.sleep(0.5)
        sd.stop()
    summary("naive (decode at fire time, sd.play), clock", late)


def daemon_run(server: PulseServer, tmp: Path) -> None:
    root = tmp / "station"
    (root / "scripts").mkdir(parents=True)
    (root / "audio_out").mkdir()
    (root / "scripts" / "a.txt").write_text("Xin chào.", encoding="utf-8")
    t0 = int(time.time()) + 12
    at = ", ".join(f'"{datetime.fromtimestamp(t0 + 3 * i, timezone.utc):%H:%M:%S}"' for i in range(20))
    sf.write(str(root / "jingle.wav"), tone(1000, 0.3), RATE)
    (root / "schedule.toml").write_text(
        f'timezone = "UTC"\n[tts]\nengine = "espeak"\n[audio]\nformat = "wav"\nrepeat = 1\ngap = 0.2\n'
        f'jingle_in = "jingle.wav"\n[bulletins.a]\nscript = "scripts/a.txt"\n'
        f'[zones.z]\ndevice = "bench"\n[[slots]]\nbulletin = "a"\nzones = ["z"]\nat = [{at}]\n', encoding="utf-8")
    env = {**os.environ, **server.env}
    subprocess.run([sys.executable, "-m", "broadcaster", "build"], cwd=root, env=env, capture_output=True, check=True)
    from broadcaster.audio.player import find_output
    rec = Recorder(server, "bench", tmp / "daemon.raw")
    proc = subprocess.Popen([sys.executable, "-m", "broadcaster", "daemon"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t_ref = t0 - 3.0
    time.sleep(max(0, t_ref - 2 - time.time()))
    reference_click(find_output("bench").index, t_ref)
    time.sleep(max(0, t0 + 61 - time.time()))
    proc.terminate()
    proc.wait()
    x = rec.stop()
    [ref] = onsets(x, 2000, 1)
    summary("daemon, 20 scheduled airings", errors(onsets(x, 1000, 20), ref, [t0 + 3 * i for i in range(20)], t_ref))


def peak_rss(server: PulseServer, tmp: Path, minutes: float) -> float:
    root = tmp / f"rss{minutes}"
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "a.txt").write_text("Xin chào.", encoding="utf-8")
    long_bulletin(root / "long.mp3", minutes)
    (root / "schedule.toml").write_text(
        '[tts]\nengine = "espeak"\n[bulletins.a]\nscript = "scripts/a.txt"\n[zones.z]\ndevice = "bench"\n',
        encoding="utf-8")
    env = {**os.environ, **server.env}
    subprocess.run([sys.executable, "-m", "broadcaster", "build"], cwd=root, env=env, capture_output=True, check=True)
    rec = Recorder(server, "bench", tmp / "rss.raw")
    proc = subprocess.Popen([sys.executable, "-m", "broadcaster", "daemon"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(4)
    subprocess.Popen([sys.executable, "-m", "broadcaster", "play", "long.mp3", "--zone", "z"], cwd=root, env=env,
                     stdout=subprocess.DEVNULL)
    time.sleep(25)
    status = Path(f"/proc/{proc.pid}/status").read_text()
    proc.terminate()
    proc.wait()
    rec.stop()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024


CLICK: Path


def main() -> None:
    global CLICK
    only = sys.argv[1] if len(sys.argv) > 1 else "all"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server = PulseServer(tmp / "pulse", ["bench"])
        server.apply_env(os.environ)
        CLICK = tmp / "click.wav"
        sf.write(str(CLICK), tone(2000, 0.2), RATE)
        try:
            if only in ("all", "daemon"):
                daemon_run(server, tmp)
            if only in ("all", "mechanism"):
                mechanism(server, tmp)
            for minutes in ((1, 60) if only in ("all", "rss") else ()):
                print(f"daemon peak RSS playing a {minutes:2d}-minute bulletin:   {peak_rss(server, tmp, minutes):6.1f} MB")
        finally:
            server.stop()
            shutil.rmtree(tmp / "pulse", ignore_errors=True)


if __name__ == "__main__":
    main()
