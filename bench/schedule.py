"""Schedule speed (run by hand: python bench/schedule.py).

A district of 1 district zone and 20 commune zones, each with 10 slots of its own
(2 times a day, or a cron line), 210 slots in all. Prints the time of
`broadcaster check` (validate everything) and of `broadcaster next --days 30 --json`
as whole processes, and the number of airings listed. Aim: under 0.5 s each.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def district(root: Path) -> None:
    for name in ("scripts", "jingles"):
        shutil.copytree(REPO / name, root / name)
    lines = [(REPO / "schedule.toml").read_text(encoding="utf-8").split("# --- where and when")[0]]
    zones = ["huyen"] + [f"xa_{i:02d}" for i in range(1, 21)]
    bulletins = ["bluezone-cai-dat", "bluezone-huong-dan", "bluezone-nhac-lai"]
    for z in zones:
        lines.append(f'[zones.{z}]\nname = "Đài {z}"\nquiet = "22:00-05:00"\n')
    for zi, z in enumerate(zones):
        for s in range(10):
            b = bulletins[s % 3]
            if s % 4 == 3:
                lines.append(f'[[slots]]\nbulletin = "{b}"\nzones = ["{z}"]\ncron = "{zi % 60} {6 + s}-20/6 * * mon-fri"\n')
            else:
                lines.append(f'[[slots]]\nbulletin = "{b}"\nzones = ["{z}"]\n'
                             f'at = ["{5 + s:02d}:{zi:02d}", "{12 + s:02d}:{(zi * 7) % 60:02d}"]\n'
                             f'days = "mon-sat"\nstart = 2020-08-01\nend = 2030-12-31\n')
    (root / "schedule.toml").write_text("\n".join(lines), encoding="utf-8")


def timed(root: Path, *args: str, runs: int = 5) -> tuple[float, str]:
    best, out = float("inf"), ""
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "broadcaster", *args], cwd=root, capture_output=True, text=True)
        best = min(best, time.perf_counter() - t)
        out = p.stdout
        if p.returncode not in (0, 1):
            sys.exit(p.stderr)
    return best, out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        district(root)
        subprocess.run([sys.executable, "-m", "broadcaster", "build", "--engine", "espeak"], cwd=root,
                       capture_output=True)
        t_check, out = timed(root, "check")
        print(f"check (21 zones, 210 slots, 3 bulletins):   {t_check:.2f} s   {out.strip().splitlines()[-1]}")
        t_next, out = timed(root, "next", "--days", "30", "--json", "--from", "2026-12-01")
        print(f"next --days 30 --json:                      {t_next:.2f} s   {len(json.loads(out))} airings")
        t_help, _ = timed(root, "--version")
        print(f"(start-up alone, broadcaster --version:     {t_help:.2f} s)")


if __name__ == "__main__":
    main()
