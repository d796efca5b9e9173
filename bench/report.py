"""Report speed (run by hand: python bench/report.py).

The 21-zone district of bench/schedule.py with a month of play log (August 2020: every airing
the schedule asked for, one in fifty missed or failed). Prints the time of `broadcaster report`
for each format as a whole process, the file sizes, and the airings counted. Aim: under 2 s.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.schedule import district  # noqa: E402
from broadcaster.config import load_config  # noqa: E402
from broadcaster.records.playlog import Journal  # noqa: E402
from broadcaster.config.schedule import airings  # noqa: E402


def month_of_log(root: Path) -> int:
    cfg = load_config(root / "schedule.toml")
    tz = __import__("zoneinfo").ZoneInfo(cfg.timezone)
    found = airings(cfg, datetime(2020, 8, 1, tzinfo=tz), datetime(2020, 9, 1, tzinfo=tz))
    rng = random.Random(1)
    j = Journal(root / "state")
    j.store.db.execute("PRAGMA synchronous=OFF")  # filling the bench's log quickly; the daemon keeps FULL
    j.store.db.execute("BEGIN")
    for a in found:
        roll = rng.random()
        if roll < 0.01:
            j.record(scheduled=a.time, zone=a.zone, bulletin=a.bulletin, priority=a.priority, slot=a.slot,
                     status="missed", reason="bench")
        elif roll < 0.02:
            j.record(scheduled=a.time, zone=a.zone, bulletin=a.bulletin, priority=a.priority, slot=a.slot,
                     status="failed", reason="bench")
        else:
            row = j.start(scheduled=a.time, zone=a.zone, bulletin=a.bulletin, audio=None, audio_sha256=None,
                          priority=a.priority, slot=a.slot, request=None, started=a.time)
            j.finish(row, "played", a.time.replace(minute=(a.time.minute + 2) % 60))
    j.store.db.execute("COMMIT")
    j.close()
    return len(found)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        district(root)
        n = month_of_log(root)
        print(f"play log: {n} airings in August 2020 on 21 zones")
        for fmt in ("csv", "json", "html"):
            best = float("inf")
            for _ in range(3):
                t = time.perf_counter()
                p = subprocess.run([sys.executable, "-m", "broadcaster", "report", "--from", "2020-08-01", "--to",
                                    "2020-08-31", "-o", f"r.{fmt}"], cwd=root, capture_output=True, text=True)
                best = min(best, time.perf_counter() - t)
                if p.returncode:
                    sys.exit(p.stderr)
            size = (root / f"r.{fmt}").stat().st_size
            print(f"report .{fmt}: {best:.2f} s, {size / 1024:.0f} kB   ({p.stdout.strip()})")


if __name__ == "__main__":
    main()
