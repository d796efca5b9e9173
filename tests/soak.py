"""Helpers for the long-running tests: what the daemon's process holds, and which airings were heard."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("BROADCASTER_TEST_ARTIFACTS", REPO / "test-artifacts"))


@dataclass(frozen=True)
class Sample:
    at: float
    rss_kb: int
    fds: int
    threads: int


def sample(pid: int, at: float) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    return Sample(at, rss, len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task")))


def streams_of(pulse, pid: int) -> int:
    """Sound streams the process has open on the PulseAudio server now."""
    out = pulse.pactl("list", "sink-inputs")
    return out.count(f'application.process.id = "{pid}"')


def match_heard(onsets: list[float], starts: list[float], tol: float = 0.06) -> tuple[list[int | None], float]:
    """Pair each start (wall clock) with a heard onset (recording time), under one constant delay.

    The null sink's delay is constant but unknown, so the delay chosen is the one that pairs the
    most; returns, for each start, the index of its onset (or None), and the delay.
    """
    if not onsets or not starts:
        return [None] * len(starts), 0.0
    o = np.array(onsets)
    s = np.array(starts)
    best, best_delay = -1, 0.0
    for delay in {round(a - b, 3) for a in o[:40] for b in s}:
        i = np.clip(np.searchsorted(o, s + delay), 1, len(o) - 1)
        near = np.minimum(np.abs(o[i] - s - delay), np.abs(o[i - 1] - s - delay))
        n = int(np.sum(near < tol))
        if n > best:
            best, best_delay = n, delay
    pairs: list[int | None] = []
    for t in s + best_delay:
        j = int(np.argmin(np.abs(o - t)))
        pairs.append(j if abs(o[j] - t) < tol else None)
    return pairs, best_delay


def keep(name: str, data: dict) -> None:
    """A test's figures, for the engineer's note (test-artifacts/, not committed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def integrity(db: Path) -> str:
    import sqlite3
    con = sqlite3.connect(str(db))
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def run_cli(root: Path, env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    import sys
    return subprocess.run([sys.executable, "-m", "broadcaster", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=timeout)

