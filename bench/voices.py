"""Real-time factor of each TTS engine (run by hand: python bench/voices.py [voices-dir]).

For every engine that is available here, synthesises every sentence of the sample scripts
(no cache) and prints seconds of compute per second of speech (RTF: below 1 is faster than
real time). Engines that are not available are listed with the reason. Piper uses the models
in voices-dir (default: ./voices); without a real model there is nothing to measure.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from broadcaster.engines import create_engine, engine_names  # noqa: E402
from broadcaster.text.reading import spoken_paragraphs  # noqa: E402
from broadcaster.text.scripts import read_script  # noqa: E402


def main() -> None:
    voices_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "voices"
    sentences = [t for p in sorted((REPO / "scripts").glob("*.txt"))
                 for par in spoken_paragraphs(read_script(p)) for t in par]
    print(f"{len(sentences)} sentences from the sample scripts")
    for name in sorted(engine_names()):
        eng = create_engine(name, **({"voices_dir": voices_dir} if name == "piper" else {}))
        reason = eng.unavailable_reason()
        if reason:
            print(f"{name:<7} not available: {reason}")
            continue
        for voice in [v.id for v in eng.voices()][:3]:
            t = time.perf_counter()
            audio = sum(eng.synthesize(s, voice, 1.0).duration for s in sentences)
            compute = time.perf_counter() - t
            label = Path(voice).name if voice.endswith(".onnx") else voice
            print(f"{name:<7} {label:<28} {compute:6.2f} s for {audio:6.1f} s of speech: RTF {compute / audio:.3f}")


if __name__ == "__main__":
    main()
