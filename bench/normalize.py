"""Normaliser speed (run by hand: python bench/normalize.py).

Prints sentences per second on a long script (the sample scripts and the shared development
set, repeated to 20,000 sentences) in one process on one core, and the wall time of
`broadcaster normalize` on the development set as a whole process (start-up included).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEV = REPO.parent / "shared" / "normalization" / "dev.tsv"


def sentences() -> list[str]:
    from broadcaster.text.scripts import read_script
    out = [s.text for p in sorted((REPO / "scripts").glob("*.txt")) for s in read_script(p).sentences]
    if DEV.exists():
        out += [line.split("\t")[0] for line in DEV.read_text(encoding="utf-8").splitlines()
                if line and not line.startswith("#")]
    return out


def main() -> None:
    from broadcaster.text.textnorm import Normalizer
    base = sentences()
    corpus = (base * (20000 // len(base) + 1))[:20000]
    norm = Normalizer()
    norm.normalize(corpus[0])  # load the lexicon and compile rules first
    t = time.perf_counter()
    for s in corpus:
        norm.normalize(s)
    elapsed = time.perf_counter() - t
    print(f"in-process: {len(corpus)} sentences in {elapsed:.2f} s = {len(corpus) / elapsed:,.0f} sentences/s "
          f"(mean {sum(map(len, corpus)) / len(corpus):.0f} characters)")
    if DEV.exists():
        data = "\n".join(line.split("\t")[0] for line in DEV.read_text(encoding="utf-8").splitlines()
                         if line and not line.startswith("#")) + "\n"
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "broadcaster", "normalize"], input=data.encode(),
                           capture_output=True, check=True)
            runs.append(time.perf_counter() - t)
        print(f"`broadcaster normalize` on the dev set (40 lines), whole process: "
              f"best {min(runs):.2f} s, median {sorted(runs)[2]:.2f} s")


if __name__ == "__main__":
    main()
