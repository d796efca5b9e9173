"""The daemon left running: an airing every few seconds on two zones, with edits, a rebuild and
an urgent play in the middle; afterwards every airing is accounted for, heard, and nothing leaked.

BROADCASTER_SOAK_SECONDS sets the length (make test uses a short run; the full one is 600).
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import pytest

from tests.pulse import Recorder, tone_onsets
from tests.soak import keep, match_heard, run_cli, sample, streams_of
from tests.station import FREQS, Station

pytestmark = [pytest.mark.audio, pytest.mark.slow]

SECONDS = float(os.environ.get("BROADCASTER_SOAK_SECONDS", "600"))
EVERY = 4.0      # seconds between airings on a zone
LEAD = 12.0      # seconds from the daemon's start to the first airing


def hms(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S")


def soak_config(station: Station, t0: float, n: int) -> str:
    za = [hms(t0 + i * EVERY) for i in range(n)]
    zb = [hms(t0 + i * EVERY + EVERY / 2) for i in range(n)]
    text = ['timezone = "UTC"', "[tts]", 'engine = "espeak"', "[audio]", 'format = "wav"', "sample_rate = 44100",
            "repeat = 1", "gap = 0.2", "[daemon]", 'grace = "10m"']
    for b in FREQS:
        text += [f"[bulletins.{b}]", f'script = "scripts/{b}.txt"', f'jingle_in = "jingles/{b}.wav"']
    text += ["[zones.za]", 'device = "zone_a"', "[zones.zb]", 'device = "zone_b"', "volume = 1.0"]
    text += ["[[slots]]", 'bulletin = "a"', 'zones = ["za"]', f"at = {za}".replace("'", '"')]
    text += ["[[slots]]", 'bulletin = "b"', 'zones = ["zb"]', f"at = {zb}".replace("'", '"')]
    return "\n".join(text) + "\n"


def test_soak(station, pulse, tmp_path):
    n = int(SECONDS // EVERY)
    for b in FREQS:
        station.project.write(f"scripts/{b}.txt", "Một.")
    t0 = float(int(time.time() + LEAD + 20))  # after the build below
    station.project.write("schedule.toml", soak_config(station, t0, n))
    station.build()
    env = {**os.environ, **pulse.env}
    recorders = {z: Recorder(pulse, s, tmp_path / f"{z}.raw") for z, s in (("za", "zone_a"), ("zb", "zone_b"))}
    station.start()
    pid = station.proc.pid
    samples = [sample(pid, time.time())]
    idle = (sample(pid, time.time()), streams_of(pulse, pid))
    middle = t0 + (n // 2) * EVERY
    events = {  # seconds after `middle` → what happens
        0.3: ("rebuild b while it is on air", lambda: run_cli(station.root, env, "build", "--force", "b")),
        2.3: ("urgent play on za, interrupting a", lambda: run_cli(station.root, env, "play", "d", "--zone", "za",
                                                                     "--urgent")),
        9.0: ("script edit of a", lambda: station.project.write("scripts/a.txt", "Hai.")),
        13.0: ("config edit (zb volume)", lambda: station.project.write(
            "schedule.toml", station.project.read("schedule.toml").replace("volume = 1.0", "volume = 0.9"))),
    }
    done: dict[str, object] = {}
    pending = sorted(events.items())
    end = t0 + n * EVERY + 3
    while time.time() < end:
        now = time.time()
        while pending and now >= middle + pending[0][0]:
            (_at, (what, act)), pending = pending[0], pending[1:]
            done[what] = act()
        if not samples or now - samples[-1].at >= 5:
            samples.append(sample(pid, now))
        time.sleep(0.1)
    time.sleep(2)
    last = (sample(pid, time.time()), streams_of(pulse, pid))
    assert station.stop() == 0
    heard = {z: r.stop() for z, r in recorders.items()}
    rows = station.log()

    # every scheduled airing exactly once, nothing lost
    expected = {("za", hms(t0 + i * EVERY)) for i in range(n)} | {("zb", hms(t0 + i * EVERY + EVERY / 2))
                                                                   for i in range(n)}
    scheduled = [r for r in rows if r["bulletin"] in ("a", "b")]
    keys = [(r["zone"], r["scheduled"][11:19]) for r in scheduled]
    assert len(keys) == len(set(keys)), "an airing was logged twice"
    assert set(keys) == expected, (sorted(expected - set(keys))[:5], sorted(set(keys) - expected)[:5])
    statuses = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    assert statuses.get("failed", 0) == 0 and statuses.get("missed", 0) == 0, (statuses, station.daemon_log()[-3000:])
    urgent = [r for r in rows if r["bulletin"] == "d"]
    assert len(urgent) == 1 and urgent[0]["status"] == "played"
    assert done["urgent play on za, interrupting a"].returncode == 0
    assert done["rebuild b while it is on air"].returncode == 0

    # every played row is in the recording of its zone, with its bulletin's jingle
    report = {"seconds": SECONDS, "airings_expected": len(expected), "rows": len(rows), "statuses": statuses}
    for zone, bulletins in (("za", ("a", "d")), ("zb", ("b",))):
        zrows = [r for r in rows if r["zone"] == zone and r["status"] in ("played", "late")]
        for b in bulletins:
            brows = [r for r in zrows if r["bulletin"] == b]
            starts = [datetime.fromisoformat(r["started"]).timestamp() for r in brows]
            onsets = tone_onsets(heard[zone], FREQS[b])
            pairs, delay = match_heard(onsets, starts)
            unheard = [r["scheduled"] for r, p in zip(brows, pairs) if p is None]
            assert not unheard, (zone, b, unheard[:5], delay)
            report[f"{zone}/{b}"] = {"played_rows": len(brows), "heard": sum(p is not None for p in pairs),
                                     "onsets_in_recording": len(onsets)}
    # the new script's audio went on air after the edit
    a_rows = [r for r in rows if r["bulletin"] == "a" and r["status"] == "played"]
    shas = [r["audio_sha256"] for r in a_rows]
    assert len(set(shas)) == 2 and shas[-1] != shas[0]
    log = station.daemon_log()
    assert "configuration reloaded" in log and "rendering a ahead of its airings" in log

    # nothing grew, nothing left behind: compared after the one-time work (the first render loads
    # the speech and loudness libraries; the scheduler's four worker threads start as jobs overlap)
    settled = [x for x in samples if x.at > middle + 25] or samples[-2:]
    first, final = settled[: max(1, len(settled) // 4)], settled[-max(1, len(settled) // 4):]
    rss0, rss1 = max(x.rss_kb for x in first), max(x.rss_kb for x in final)
    fd0, fd1 = max(x.fds for x in first), max(x.fds for x in final)
    th0, th1 = max(x.threads for x in first), max(x.threads for x in final)
    report.update(rss_mb_before_first_render=round(samples[1].rss_kb / 1024, 1) if len(samples) > 1 else None,
                  rss_mb_settled=round(rss0 / 1024, 1), rss_mb_end=round(rss1 / 1024, 1),
                  rss_mb_peak=round(max(x.rss_kb for x in samples) / 1024, 1), fds_settled=fd0, fds_end=fd1,
                  threads_settled=th0, threads_end_playing=th1, threads_idle_start=idle[0].threads,
                  threads_idle_end=last[0].threads, streams_idle_start=idle[1], streams_idle_end=last[1],
                  samples=[(round(x.at - t0), round(x.rss_kb / 1024, 1), x.fds, x.threads) for x in samples])
    keep("soak", report)
    assert rss1 - rss0 < 4 * 1024, report
    assert fd1 <= fd0 + 2, report
    assert th1 <= th0 + 2 and last[0].threads <= 6 + 4 + 1, report  # + the pool, + a feeder finishing
    assert last[1] == 0, report
