"""On-air timing and memory (run by hand: python bench/onair.py; needs pulseaudio, as `make test` installs).

Starts a private PulseAudio with a null sink, records its monitor, and prints:
1. the daemon: 20 scheduled airings (3 s apart) of a short bulletin, start error of each
   against a reference click played in the same recording: median and max;
2. the same mechanism on a long bulletin (5 minutes of MP3): prepared ahead (the daemon's
   Playback; 20 starts, from the recording) against naive playback (decode the file at fire
   time, then sd.play; 20 starts, by the wall clock plus the stream's latency);
   `python bench/onair.py daemon|mechanism|rss` runs one part;
3. the daemon's peak RSS while playing a 60-minute bulletin and a 1-minute one;
4. `python bench/onair.py zones N`: one daemon driving N zones (N null sinks), 8 airings on every
   zone at the same instants, then 8 more staggered 1 s apart from zone to zone (slots are set to the second): start error per
   zone (median/max, from each zone's recording against a reference click on the same sink), the
   daemon's own `start_error_ms` from the play log, its CPU while playing and its peak memory;
5. `python bench/onair.py after-render [MINUTES]`: airings every 4 s on one zone while the same PC
   renders a long programme (default 60 minutes of speech, from the sentence cache) and after it
   exits: the start error of the airings during the render and of those in the 10 s after it;
6. `python bench/onair.py back-to-back [N]`: N airings (default 100) on one zone, each starting 0,
   0.5, 1.7 or 3 s after the one before ends (in turn): start error of each from the recording,
   against a reference click, and what the play log says (late airings, its start_error_ms);
7. `python bench/onair.py under-load [N] [BUSY]`: the same on two zones at once (default 40 airings each) with
   BUSY other processes (default 2) keeping the cores busy: start error p50/max, how many within 10 ms, and the dropouts
   the play log counted (PortAudio's underflows during each airing).
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
    from broadcaster.audio.playback import Playback
    p = Playback(device, CLICK)
    p.start_at(when)
    threading.Thread(target=lambda: (p.wait(5), p.close()), daemon=True).start()


def mechanism(server: PulseServer, tmp: Path) -> None:
    """Prepared Playback against naive decode-then-play, on a 10-minute MP3."""
    import sounddevice as sd
    from broadcaster.audio.playback import Playback
    from broadcaster.audio.player import find_output
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
    t0 = int(time.time()) + 12
    targets = [t0 + 3 * i for i in range(20)]
    root = tmp / "station"
    station(root, ["bench"], f'[[slots]]\nbulletin = "a"\nzones = ["bench"]\nat = [{hhmmss(targets)}]\n')
    proc, recs, t_ref = start_daemon(server, root, tmp, ["bench"], t0)
    time.sleep(max(0, t0 + 61 - time.time()))
    proc.terminate()
    proc.wait()
    x = recs["bench"].stop()
    [ref] = onsets(x, 2000, 1)
    summary("daemon, 20 scheduled airings", errors(onsets(x, 1000, 20), ref, targets, t_ref))


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


def station(root: Path, zones: list[str], slots: str, script: str = "Xin chào.") -> None:
    """A station whose zones are named as their sinks, with one bulletin "a" opening on a 1 kHz tone."""
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "a.txt").write_text(script, encoding="utf-8")
    sf.write(str(root / "jingle.wav"), tone(1000, 0.3), RATE)
    zone_text = "".join(f'[zones.{z}]\ndevice = "{z}"\n' for z in zones)
    (root / "schedule.toml").write_text(
        f'timezone = "UTC"\n[tts]\nengine = "espeak"\n[audio]\nformat = "wav"\nrepeat = 1\ngap = 0.2\n'
        f'jingle_in = "jingle.wav"\n[bulletins.a]\nscript = "scripts/a.txt"\n{zone_text}{slots}', encoding="utf-8")


def start_daemon(server: PulseServer, root: Path, tmp: Path, zones: list[str],
                 t0: float) -> tuple[subprocess.Popen, dict[str, Recorder], float]:
    """Build the station, record each zone's sink, start its daemon, and play a reference click on
    every sink 3 s before ``t0``: (the daemon, the recorders, the click's time)."""
    from broadcaster.audio.player import find_output
    env = {**os.environ, **server.env}
    subprocess.run([sys.executable, "-m", "broadcaster", "build"], cwd=root, env=env, capture_output=True, check=True)
    recs = {z: Recorder(server, z, tmp / f"{root.name}-{z}.raw") for z in zones}
    proc = subprocess.Popen([sys.executable, "-m", "broadcaster", "daemon"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t_ref = t0 - 3.0
    time.sleep(max(0, t_ref - 2 - time.time()))
    for z in zones:
        reference_click(find_output(z).index, t_ref)
    return proc, recs, t_ref


def hhmmss(times: list[float]) -> str:
    return ", ".join(f'"{datetime.fromtimestamp(t, timezone.utc):%H:%M:%S}"' for t in times)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def logged_errors(root: Path, server: PulseServer) -> list[float]:
    import json
    out = subprocess.run([sys.executable, "-m", "broadcaster", "log", "--json"], cwd=root,
                         env={**os.environ, **server.env},
                         capture_output=True, text=True, check=True).stdout
    return [abs(r["start_error_ms"]) for r in json.loads(out) if r["start_error_ms"] is not None]


def many_zones(server: PulseServer, tmp: Path, n: int) -> None:
    zones = [f"z{i}" for i in range(n)]
    for z in zones:
        server.add_sink(z)
    server.apply_env(os.environ)
    root = tmp / f"zones{n}"
    t0 = int(time.time()) + 15
    together = [t0 + 4 * i for i in range(8)]
    staggered = {z: [t0 + 34 + 4 * i + k for i in range(8)] for k, z in enumerate(zones)}
    slots = "".join(f'[[slots]]\nbulletin = "a"\nzones = ["{z}"]\nat = [{hhmmss(together + staggered[z])}]\n'
                    for z in zones)
    station(root, zones, slots)
    proc, recs, t_ref = start_daemon(server, root, tmp, zones, t0)
    time.sleep(max(0, t0 - 0.5 - time.time()))
    cpu0, wall0 = cpu_seconds(proc.pid), time.time()
    time.sleep(max(0, max(staggered[zones[-1]]) + 3 - time.time()))
    cpu = (cpu_seconds(proc.pid) - cpu0) / (time.time() - wall0) * 100
    rss = int(next(line.split()[1] for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                   if line.startswith("VmHWM"))) / 1024
    proc.terminate()
    proc.wait()
    worst = []
    for z in zones:
        x = recs[z].stop()
        [ref] = onsets(x, 2000, 1)
        targets = together + staggered[z]
        errs = errors(onsets(x, 1000, len(targets)), ref, targets, t_ref)
        worst.append(max(errs))
        summary(f"zone {z}: 8 together + 8 staggered", errs)
    logged = logged_errors(root, server)
    print(f"{n} zones: max start error over all zones {max(worst):.1f} ms; play log start_error_ms "
          f"median {np.median(logged):.1f} max {max(logged):.1f} ms (n={len(logged)}); "
          f"daemon CPU while playing {cpu:.1f} % of one core; peak memory {rss:.0f} MB")


def back_to_back_station(root: Path, zones: list[str], n: int) -> tuple[int, list[tuple[float, str]]]:
    """A station whose zones (named as their sinks) play n airings back to back, each starting 0, 0.5, 1.7
    or 3 s after the one before ends, in turn, from 15 s on: (that start, the (time, bulletin) plan)."""
    (root / "audio").mkdir(parents=True)
    # (bulletin, its length, seconds to the next slot): the gaps are 0, 0.5, 1.7 and 3 s
    cycle = [("b20", 2.0, 2), ("b15", 1.5, 2), ("b13", 1.3, 3), ("b20", 2.0, 5)]
    for name, seconds in {(c[0], c[1]) for c in cycle}:
        x = np.concatenate([tone(1000, 0.3), (0.005 * np.sin(np.arange(int((seconds - 0.3) * RATE)) * 0.05))
                            .astype(np.float32)])
        sf.write(str(root / "audio" / f"{name}.wav"), x, RATE)
    t0 = int(time.time()) + 15
    plan, t = [], float(t0)
    for i in range(n):
        name, _length, step = cycle[i % len(cycle)]
        plan.append((t, name))
        t += step
    names = ", ".join(f'"{z}"' for z in zones)
    slots = "".join(f'[[slots]]\nbulletin = "{name}"\nzones = [{names}]\nat = [{hhmmss([when])}]\n'
                    for when, name in plan)
    bulletins = "".join(f'[bulletins.{name}]\nfile = "audio/{name}.wav"\n' for name in {c[0] for c in cycle})
    zone_text = "".join(f'[zones.{z}]\ndevice = "{z}"\n' for z in zones)
    (root / "schedule.toml").write_text(f'timezone = "UTC"\n[audio]\nformat = "wav"\nsample_rate = {RATE}\n'
                                        f'{bulletins}{zone_text}{slots}', encoding="utf-8")
    return t0, plan


def back_to_back(server: PulseServer, tmp: Path, n: int) -> None:
    """Airings one after the other on one zone, 0, 0.5, 1.7 and 3 s apart, n of them."""
    root = tmp / "b2b"
    t0, plan = back_to_back_station(root, ["bench"], n)
    proc, recs, t_ref = start_daemon(server, root, tmp, ["bench"], t0)
    from broadcaster.audio.player import find_output
    t_end = plan[-1][0] + 3.5    # a second click after the last airing: the recording's own clock is checked
    time.sleep(max(0, t_end - 2 - time.time()))
    reference_click(find_output("bench").index, t_end)
    time.sleep(max(0, t_end + 2 - time.time()))
    proc.terminate()
    proc.wait()
    x = recs["bench"].stop()
    ref, ref_end = onsets(x, 2000, 2)
    found = onsets(x, 1000, n)
    targets = [w for w, _n in plan]
    errs = errors(found, ref, targets, t_ref)
    summary(f"back to back, {n} airings (gaps 0, 0.5, 1.7, 3 s), against the first click", errs)
    # over minutes, the recording's sample clock and the PC's clock part by tens of ppm: each target is
    # placed on the recording's timeline between the two clicks (played on a stream of their own)
    scale = (ref_end - ref) / (t_end - t_ref)
    print(f"the recording's clock against the PC's over {t_end - t_ref:.0f} s: {(scale - 1) * 1e6:+.0f} ppm")
    errs = [abs(f - (ref + (t - t_ref) * scale)) * 1000 for f, t in zip(found, targets)]
    summary("the same, on the recording's clock (between the clicks)", errs)
    for k, gap in enumerate((3.0, 0.0, 0.5, 1.7)):
        summary(f"  airings {gap:g} s after the one before", errs[k::4])
    import json
    rows = json.loads(subprocess.run([sys.executable, "-m", "broadcaster", "log", "--json"], cwd=root,
                                     env={**os.environ, **server.env}, capture_output=True, text=True,
                                     check=True).stdout)
    logged = [abs(r["start_error_ms"]) for r in rows if r["start_error_ms"] is not None]
    statuses = {s: sum(r["status"] == s for r in rows) for s in {r["status"] for r in rows}}
    print(f"play log: {len(rows)} rows {statuses}; start_error_ms median {np.median(logged):.1f} "
          f"max {max(logged):.1f} ms")


def under_load(server: PulseServer, tmp: Path, n: int, busy: int = 2) -> None:
    """Back-to-back airings (gaps 0, 0.5, 1.7, 3 s) on two zones at once while ``busy`` other processes keep
    every core busy at normal priority, as other programs on a commune's PC do: the start error of each
    airing from the recordings (between two clicks), and the dropouts the play log counted."""
    zones = ["bench", "load2"]
    server.add_sink("load2")
    server.apply_env(os.environ)
    root = tmp / "load"
    t0, plan = back_to_back_station(root, zones, n)
    hogs = ([subprocess.Popen(["stress-ng", "--cpu", str(busy), "--quiet"])] if shutil.which("stress-ng") else
            [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)])
    print(f"busy: {'stress-ng --cpu ' + str(busy) if shutil.which('stress-ng') else f'{busy} Python loops'}", flush=True)
    proc = None
    try:
        proc, recs, t_ref = start_daemon(server, root, tmp, zones, t0)
        from broadcaster.audio.player import find_output
        t_end = plan[-1][0] + 3.5
        time.sleep(max(0, t_end - 2 - time.time()))
        for z in zones:
            reference_click(find_output(z).index, t_end)
        time.sleep(max(0, t_end + 2 - time.time()))
    finally:
        for h in hogs:
            h.terminate()
            h.wait(10)
        if proc is not None:
            proc.terminate()
            proc.wait()
    targets = [w for w, _n in plan]
    worst = []
    for z in zones:
        x = recs[z].stop()
        ref, ref_end = onsets(x, 2000, 2)
        found = onsets(x, 1000, n)
        scale = (ref_end - ref) / (t_end - t_ref)
        errs = [abs(f - (ref + (w - t_ref) * scale)) * 1000 for f, w in zip(found, targets)]
        worst += errs
        summary(f"zone {z}: {n} airings back to back with {busy} busy processes (recording's clock)", errs)
    import json
    rows = json.loads(subprocess.run([sys.executable, "-m", "broadcaster", "log", "--json"], cwd=root,
                                     env={**os.environ, **server.env}, capture_output=True, text=True,
                                     check=True).stdout)
    statuses = {s: sum(r["status"] == s for r in rows) for s in {r["status"] for r in rows}}
    dropouts = sum(r["dropouts"] or 0 for r in rows)
    within = sum(e <= 10 for e in worst)
    print(f"under load: {len(rows)} rows {statuses}; dropouts counted {dropouts} "
          f"(in {sum(bool(r['dropouts']) for r in rows)} airings); {within}/{len(worst)} airings within 10 ms; "
          f"start error p50 {np.median(worst):.1f} ms, max {max(worst):.1f} ms")


def after_render(server: PulseServer, tmp: Path, minutes: float) -> None:
    """Airings every 4 s while a long programme renders on the same PC, and after it exits."""
    sys.path.insert(0, str(REPO / "bench"))
    import build as build_bench
    long_root = tmp / "long"
    long_root.mkdir()
    build_bench.project(long_root, minutes, gap=1.0)
    print(f"filling the sentence cache for {minutes:g} minutes of speech…", flush=True)
    subprocess.run([sys.executable, "-m", "broadcaster", "build"], cwd=long_root, check=True, capture_output=True)
    build_bench.project(long_root, minutes, gap=1.5)   # the next build renders again, from the cache
    root = tmp / "after"
    t0 = int(time.time()) + 12
    targets = [t0 + 4 * i for i in range(60)]
    station(root, ["bench"], f'[[slots]]\nbulletin = "a"\nzones = ["bench"]\nat = [{hhmmss(targets)}]\n')
    proc, recs, t_ref = start_daemon(server, root, tmp, ["bench"], t0)
    time.sleep(max(0, t0 + 1 - time.time()))
    began = time.time()
    subprocess.run([sys.executable, "-m", "broadcaster", "build"], cwd=long_root, check=True, capture_output=True)
    ended = time.time()
    time.sleep(max(0, min(ended + 12, targets[-1] + 2) - time.time()))
    last = [t for t in targets if t < time.time() - 1]
    proc.terminate()
    proc.wait()
    x = recs["bench"].stop()
    [ref] = onsets(x, 2000, 1)
    errs = errors(onsets(x, 1000, len(last)), ref, last, t_ref)
    during = [e for e, t in zip(errs, last) if began <= t <= ended]
    after = [e for e, t in zip(errs, last) if ended < t <= ended + 10]
    print(f"render of {minutes:g} minutes took {ended - began:.0f} s")
    if during:
        summary("airings during the render", during)
    if after:
        summary("airings in the 10 s after it exited", after)


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
            if only == "zones":
                many_zones(server, tmp, int(sys.argv[2]) if len(sys.argv) > 2 else 10)
            if only == "back-to-back":
                back_to_back(server, tmp, int(sys.argv[2]) if len(sys.argv) > 2 else 100)
            if only == "under-load":
                under_load(server, tmp, int(sys.argv[2]) if len(sys.argv) > 2 else 40,
                           int(sys.argv[3]) if len(sys.argv) > 3 else 2)
            if only == "after-render":
                after_render(server, tmp, float(sys.argv[2]) if len(sys.argv) > 2 else 60)
            for minutes in ((1, 60) if only in ("all", "rss") else ()):
                print(f"daemon peak RSS playing a {minutes:2d}-minute bulletin:   {peak_rss(server, tmp, minutes):6.1f} MB")
        finally:
            server.stop()
            shutil.rmtree(tmp / "pulse", ignore_errors=True)


if __name__ == "__main__":
    main()
