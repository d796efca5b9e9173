"""The console under a year of play log: 21 zones (~75,000 airings), or a commune's 150 clusters
(~550,000 airings, with villages, positions and groups).

    .venv/bin/python bench/web.py [ROUNDS] [ZONES]

Starts `broadcaster web` on 127.0.0.1, logs in, and asks for the overview (and its live part),
the log and the schedule ROUNDS times each (default 40), printing the time per page seen by the
client over loopback (p50/p95; goal p95 ≤ 100 ms) and the console's peak memory.
"""

from __future__ import annotations

import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ZONES = 21
VILLAGES = 34


def main() -> None:
    import httpx
    from broadcaster.records.playlog import Journal
    from tests.console import ConsoleServer, PASSWORD, add_user
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    n_zones = int(sys.argv[2]) if len(sys.argv) > 2 else ZONES
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    sf.write(str(tmp / "b.wav"), np.zeros(22050 * 60, dtype=np.int16), 22050)
    zones = "".join(f'[zones.z{i:03d}]\nname = "Cụm loa số {i}"\nquiet = "22:00-05:00"\n'
                    f'village = "Thôn {i % VILLAGES + 1}"\nlat = {16.4 + i * 0.001:.4f}\nlon = {107.5 + (i % 13) * 0.002:.4f}\n'
                    for i in range(n_zones))
    groups = ("[groups]\n" + "".join(f'thon_{v + 1} = [{", ".join(chr(34) + f"z{i:03d}" + chr(34) for i in range(n_zones) if i % VILLAGES == v)}]\n'
                                      for v in range(min(VILLAGES, n_zones)))
              + f'song = [{", ".join(chr(34) + f"group:thon_{v + 1}" + chr(34) for v in range(0, min(VILLAGES, n_zones), 3))}]\n')
    times = ", ".join(f'"{h:02d}:{m:02d}"' for h, m in [(5, 30), (6, 30), (7, 0), (8, 0), (10, 0), (11, 30), (14, 0),
                                                          (16, 0), (17, 0), (18, 30)])
    (tmp / "schedule.toml").write_text(
        f'timezone = "Asia/Ho_Chi_Minh"\n[bulletins.b]\ntitle = "Bản tin"\nfile = "b.wav"\n{zones}'
        f'{groups}[[slots]]\nbulletin = "b"\nzones = "*"\nat = [{times}]\n', encoding="utf-8")
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    j = Journal(tmp / "state")
    db = j.store.db
    db.execute("PRAGMA synchronous=OFF")   # filling the bench's log quickly; the daemon keeps FULL
    db.execute("BEGIN")
    start = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=365)
    rng = random.Random(1)
    n = 0
    for d in range(365):
        for h, m in [(5, 30), (6, 30), (7, 0), (8, 0), (10, 0), (11, 30), (14, 0), (16, 0), (17, 0), (18, 30)]:
            t = start + timedelta(days=d, hours=h, minutes=m)
            for z in range(n_zones):
                status = rng.choices(["played", "late", "missed", "failed"], [96, 2, 1, 1])[0]
                db.execute("INSERT INTO airings (scheduled, scheduled_ts, zone, bulletin, priority, slot, started,"
                           " ended, status) VALUES (?,?,?,?,?,?,?,?,?)",
                           (t.isoformat(timespec="milliseconds"), t.timestamp(), f"z{z:03d}", "b", "normal", 0,
                            t.isoformat(timespec="milliseconds"), (t + timedelta(seconds=60)).isoformat(), status))
                n += 1
    db.execute("COMMIT")
    j.close()
    print(f"play log: {n} airings, {n_zones} zones, 365 days")
    add_user(tmp, "admin", "admin")
    server = ConsoleServer(tmp, tmp / "web.log")
    try:
        c = httpx.Client(base_url=server.url, timeout=60)
        html = c.get("/login").text
        csrf = html.split('name="csrf" value="')[1].split('"')[0]
        c.post("/login", data={"csrf": csrf, "name": "admin", "password": PASSWORD, "next": "/"})
        for page in ("/", "/live", "/log", "/log?zone=z003", "/schedule", "/schedule?days=7", "/bulletins", "/clusters",
                     "/clusters?village=Th%C3%B4n+3", "/play", "/compose", "/emergency"):
            c.get(page)   # warm
            took = []
            for _ in range(rounds):
                t = time.perf_counter()
                r = c.get(page)
                took.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, (page, r.status_code)
            took.sort()
            print(f"{page:<18} p50 {statistics.median(took):6.1f} ms   p95 {took[int(len(took) * 0.95) - 1]:6.1f} ms"
                  f"   ({len(r.content) / 1000:.0f} kB)")
        status = Path(f"/proc/{server.proc.pid}/status").read_text()
        peak = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM:")) / 1024
        print(f"console memory: peak {peak:.0f} MB")
    except Exception:
        print((tmp / "web.log").read_text(errors="replace")[-3000:])   # what the console said
        raise
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
