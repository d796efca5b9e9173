"""Generate the sample jingles (our own chimes, no copyrighted music).

    python jingles/make_jingles.py

Writes mo_dau.wav (opening, rising) and ket_thuc.wav (closing, falling).
"""

from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 22050


def bell(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(a * np.sin(2 * np.pi * freq * k * t) for k, a in ((1, 1.0), (2, 0.35), (3, 0.12), (4.2, 0.06)))
    attack = np.minimum(1.0, t / 0.008)
    return tone * attack * np.exp(-t * 3.2)


def chime(freqs: list[float], step: float, tail: float) -> np.ndarray:
    out = np.zeros(int((step * (len(freqs) - 1) + tail) * RATE))
    for i, f in enumerate(freqs):
        note = bell(f, tail)
        start = int(i * step * RATE)
        out[start:start + len(note)] += note
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


if __name__ == "__main__":
    here = Path(__file__).parent
    sf.write(here / "mo_dau.wav", chime([523.25, 659.25, 783.99, 1046.5], 0.28, 1.4), RATE, subtype="PCM_16")
    sf.write(here / "ket_thuc.wav", chime([783.99, 659.25, 523.25], 0.3, 1.3), RATE, subtype="PCM_16")
