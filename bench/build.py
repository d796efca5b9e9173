"""Build timings (run by hand: python bench/build.py [espeak] [--long 1,10,60] [--samples-only]).

Part 1 copies the repository's samples into a temporary project and prints a cold build (empty
sentence cache), a warm no-op rebuild and a one-sentence-edit rebuild, each as a whole
`broadcaster build` process.

Part 2 renders long programmes (a regulation read aloud: 1, 10 and 60 minutes of speech, MP3) and
prints for each: `build --force` from an empty cache, then a rebuild after changing only the gap (every
sentence from the cache): wall time, peak memory of the process (and of ffmpeg, whichever is
larger), and both per minute of audio, so that growth with length is visible.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# these articles with espeak-ng at rate 1.0 and our pauses: about 9.7 s a sentence since espeak-ng speaks
# with issue 18's pauses (it was 8 s, and "60 minutes" came out as 72.6 minutes of audio)
SENTENCES_PER_MINUTE = 6.2


def timed(cwd: Path, *args: str) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, last line of output) of one `broadcaster` process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-m", "broadcaster", *args], cwd=cwd, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(p.pid, 0)   # this process's own peak (and its children's)
        seconds = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if p.returncode:
            sys.exit(err.read().decode())
        lines = out.read().decode().strip().splitlines() or [""]
    return seconds, usage.ru_maxrss / 1024, lines[-1]


def samples(engine: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("schedule.toml", "scripts", "jingles"):
            src = REPO / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
        cold, _m, summary = timed(root, "build", "--engine", engine)
        print(f"cold build          {cold:6.2f} s   {summary}")
        warm, _m, summary = timed(root, "build", "--engine", engine)
        print(f"no-op rebuild       {warm:6.2f} s   {summary}")
        script = root / "scripts" / "bluezone_nhac_lai.txt"
        script.write_text(script.read_text(encoding="utf-8").replace("Xin cảm ơn!", "Xin trân trọng cảm ơn!"),
                          encoding="utf-8")
        edit, _m, summary = timed(root, "build", "--engine", engine)
        print(f"one-sentence edit   {edit:6.2f} s   {summary}")
        audio = sum(float(json.loads(p.read_text())["duration_s"]) for p in (root / "audio_out").glob("*.json"))
        print(f"audio rendered      {audio:6.1f} s in 3 bulletins; engine {engine}")


def regulation(minutes: float) -> str:
    """A made-up regulation of numbered articles, every sentence different (as in a real one)."""
    lines = []
    base = [s.strip() + "." for p in (REPO / "scripts").glob("*.txt")
            for s in p.read_text(encoding="utf-8").replace("!", ".").split(".")
            if s.strip() and not s.lstrip().startswith("#") and len(s.split()) > 5]
    for n in range(int(minutes * SENTENCES_PER_MINUTE)):
        if n % 6 == 0:
            lines.append("")
        lines.append(f"Khoản {n + 1}. {base[n % len(base)]}")
    return "\n".join(lines) + "\n"


def project(root: Path, minutes: float, gap: float) -> None:
    (root / "scripts").mkdir(exist_ok=True)
    (root / "scripts" / "long.txt").write_text(regulation(minutes), encoding="utf-8")
    (root / "schedule.toml").write_text(
        'timezone = "Asia/Ho_Chi_Minh"\n[tts]\nengine = "espeak"\n'
        f'[audio]\nformat = "mp3"\nrepeat = 1\ngap = {gap}\n'
        '[bulletins.long]\ntitle = "Quy chế"\nscript = "scripts/long.txt"\n', encoding="utf-8")


def long(lengths: list[float]) -> None:
    print(f"{'speech':>8} {'pass':<22} {'time':>8} {'peak':>9} {'s/min':>7} {'MB/min':>7}")
    for minutes in lengths:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            project(root, minutes, gap=1.0)
            for label, gap in (("--force, empty cache", 1.0), ("gap changed, cached", 1.5)):
                project(root, minutes, gap)
                seconds, peak, _line = timed(root, "build", "--force")
                side = json.loads((root / "audio_out" / "long.json").read_text(encoding="utf-8"))
                audio_min = side["duration_s"] / 60
                print(f"{audio_min:6.1f} m {label:<22} {seconds:7.1f}s {peak:7.0f}MB "
                      f"{seconds / audio_min:7.2f} {peak / audio_min:7.1f}", flush=True)


def main() -> None:
    args = sys.argv[1:]
    lengths = [1.0, 10.0, 60.0]
    if "--long" in args:
        i = args.index("--long")
        lengths = [float(v) for v in args[i + 1].split(",")]
        del args[i:i + 2]
    samples_only = "--samples-only" in args
    args = [a for a in args if a != "--samples-only"]
    long_only = "--long-only" in args
    args = [a for a in args if a != "--long-only"]
    if not long_only:
        samples(args[0] if args else "espeak")
    if not samples_only:
        print()
        long(lengths)


if __name__ == "__main__":
    main()
