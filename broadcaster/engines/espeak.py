"""espeak-ng: offline, always there, three Vietnamese accents.

Runs the ``espeak-ng`` program with an argument list (never a shell) and reads
the WAV it writes to stdout. Text goes in on stdin, so any length and any
character is safe.
"""

from __future__ import annotations

import shutil
import subprocess

from broadcaster.audio.files import decode_bytes
from broadcaster.engines import Engine, EngineUnavailable, Speech, SynthesisError, Voice, mono
from broadcaster.i18n import N_, _

BASE_WPM = 150  # words per minute at rate 1.0: calm announcer pace for Vietnamese syllables
# Reading styles, measured by bench/intelligibility.py: a voice variant (espeak-ng's voices/!v),
# the gap added between words (-g, in 10 ms) and the base pitch (-p, 0-99, 50 is espeak-ng's own).
STYLES: dict[str, dict] = {
    "plain": {"variant": "", "gap": 0, "pitch": 50},     # espeak-ng's own reading (the default until 2026-11)
    "gap1": {"variant": "", "gap": 1, "pitch": 50},
    "gap2": {"variant": "", "gap": 2, "pitch": 50},
    "gap4": {"variant": "", "gap": 4, "pitch": 50},
    "low": {"variant": "", "gap": 0, "pitch": 40},
    "m3": {"variant": "m3", "gap": 0, "pitch": 50},
    "m7": {"variant": "m7", "gap": 0, "pitch": 50},
    "klatt": {"variant": "klatt", "gap": 0, "pitch": 50},
    "f2": {"variant": "f2", "gap": 0, "pitch": 50},
}
# gap2 was the one style that lowered the recogniser's word error rate both clean and through the
# horn (Northern, rate 1.0: 0.883 → 0.875 clean, 0.954 → 0.926 horn) while reading slower, not faster
DEFAULT_STYLE = "gap2"
INSTALL_HINT = N_("install it: apt-get install espeak-ng (Windows: the espeak-ng .msi from its releases page)")


class EspeakEngine(Engine):
    name = "espeak"
    online = False
    parallel = True

    def __init__(self, program: str | None = None, timeout: float = 120.0, style: str = "default"):
        self.program = program or shutil.which("espeak-ng") or shutil.which("espeak-ng.exe")
        self.style_name = DEFAULT_STYLE if style == "default" else style
        self.style = STYLES[self.style_name]
        self.timeout = timeout
        self._version: str | None = None

    def unavailable_reason(self) -> str | None:
        if not self.program:
            return _("the espeak-ng program is not installed or not on PATH")
        return None

    def _require(self) -> str:
        reason = self.unavailable_reason()
        if reason:
            raise EngineUnavailable(reason, hint=_(INSTALL_HINT))
        return self.program  # type: ignore[return-value]

    def version(self) -> str:
        if self._version is None:
            out = self._run(["--version"], None).decode("utf-8", "replace")
            # "eSpeak NG text-to-speech: 1.51  Data at: ..."
            self._version = out.split(":", 1)[1].split()[0] if ":" in out else out.strip()
        return self._version

    def voices(self) -> list[Voice]:
        return [Voice("vi", "Northern", "male"),
                Voice("vi-vn-x-central", "Central", "male"),
                Voice("vi-vn-x-south", "Southern", "male")]

    def cache_tag(self, voice: str) -> str:
        s = self.style
        return voice if self.style_name == "plain" else f"{voice}+{s['variant']} g{s['gap']} p{s['pitch']}"

    def synthesize(self, text: str, voice: str, rate: float, pitch: float = 0.0) -> Speech:
        voice = self.voice_for(voice)
        s = self.style
        wpm = max(80, min(450, round(BASE_WPM * rate)))
        level = max(0, min(99, round(s["pitch"] + pitch / 2)))  # espeak-ng pitch 0-99
        wav = self._run(["-v", f"{voice}+{s['variant']}" if s["variant"] else voice, "-s", str(wpm),
                         "-p", str(level), "-g", str(s["gap"]), "-b", "1", "--stdout"], text.encode("utf-8"))
        samples, sr = decode_bytes(wav, what=_("espeak-ng output"))
        return Speech(mono(samples), sr)

    def _run(self, args: list[str], stdin: bytes | None) -> bytes:
        program = self._require()
        try:
            proc = subprocess.run([program, *args], input=stdin, capture_output=True,
                                  timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise EngineUnavailable(_("the espeak-ng program disappeared from PATH"), hint=_(INSTALL_HINT)) from None
        except subprocess.TimeoutExpired:
            raise SynthesisError(_("espeak-ng did not finish within {seconds} s", seconds=f"{self.timeout:g}")) from None
        if proc.returncode < 0:
            raise SynthesisError(_("espeak-ng was stopped by the signal {signal}", signal=_signal_name(-proc.returncode)),
                                 hint=_(SIGNAL_HINTS.get(-proc.returncode, AGAIN)))
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            reason = err[-1] if err else _("exit status {code}", code=proc.returncode)
            raise SynthesisError(_("espeak-ng failed: {reason}", reason=reason))
        return proc.stdout


AGAIN = N_("run broadcaster build again")
SIGNAL_HINTS = {25: N_("a file grew past the size allowed: free some disk space"),  # SIGXFSZ
                9: N_("it was killed, perhaps for lack of memory: close other programs")}


def _signal_name(number: int) -> str:
    import signal
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
