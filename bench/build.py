"""Build timings for the sample bulletins (run by hand: python bench/build.py).

Copies the repository's samples into a temporary project and prints:
  cold build (empty sentence cache), warm no-op rebuild, one-sentence-edit rebuild,
each as a whole `broadcaster build` process, with the engine that spoke.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def timed(cwd: Path, *args: str) -> tuple[float, str]:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "broadcaster", *args], cwd=cwd, capture_output=True, text=True)
    if p.returncode:
        sys.exit(p.stderr)
    return time.perf_counter() - t, p.stdout.strip().splitlines()[-1]


def main() -> None:
    engine = sys.argv[1] if len(sys.argv) > 1 else "espeak"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("schedule.toml", "scripts", "jingles"):
            src = REPO / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
        cold, summary = timed(root, "build", "--engine", engine)
        print(f"cold build          {cold:6.2f} s   {summary}")
        warm, summary = timed(root, "build", "--engine", engine)
        print(f"no-op rebuild       {warm:6.2f} s   {summary}")
        script = root / "scripts" / "bluezone_nhac_lai.txt"
        script.write_text(script.read_text(encoding="utf-8").replace("Xin cảm ơn!", "Xin trân trọng cảm ơn!"),
                          encoding="utf-8")
        edit, summary = timed(root, "build", "--engine", engine)
        print(f"one-sentence edit   {edit:6.2f} s   {summary}")
        audio = sum(float(__import__("json").loads(p.read_text())["duration_s"])
                    for p in (root / "audio_out").glob("*.json"))
        print(f"audio rendered      {audio:6.1f} s in 3 bulletins; engine {engine}")


if __name__ == "__main__":
    main()
