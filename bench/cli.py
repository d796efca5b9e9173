"""How fast everyday commands answer (run by hand: python bench/cli.py [RUNS]).

Each command runs as a whole process in the sample project (this repository's schedule.toml,
rendered first), as a technician would type it; prints the median and the slowest of RUNS runs
(default 7) against the goals of issue 28. The first run of each is not counted (the disk cache).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = [  # (what is typed, goal in seconds)
    (["--help"], 0.25),
    (["build"], 0.4),          # with nothing to do
    (["next"], 0.5),
    (["status"], 0.5),
    (["check"], 0.5),
]


def timed(args: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "broadcaster", *args], cwd=REPO, capture_output=True, check=False)
    return time.perf_counter() - t


def main(runs: int = 7) -> None:
    r = subprocess.run([sys.executable, "-m", "broadcaster", "build"], cwd=REPO, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"the sample project does not build: {r.stderr}")
    print(f"{'command':<24} {'median':>8} {'slowest':>8}  goal")
    for args, goal in COMMANDS:
        timed(args)
        times = [timed(args) for _ in range(runs)]
        median = statistics.median(times)
        print(f"broadcaster {' '.join(args):<12} {median:7.2f}s {max(times):7.2f}s  ≤ {goal} s"
              f"{'' if median <= goal else '  (over)'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
