"""gTTS: Google Translate's Vietnamese voice, online.

The only module that knows gTTS and the network it needs. Transient failures
(HTTP 429, 5xx, time-outs) are retried with exponential back-off; a network that
cannot be reached at all makes the engine *unavailable*, so that ``auto`` can
fall back to an offline engine instead of failing the build.
"""

from __future__ import annotations

import numpy as np
import requests

from broadcaster.audio.files import decode_bytes
from broadcaster.engines import OFFLINE_HINT, EngineUnavailable, OnlineEngine, Speech, SynthesisError, Voice, mono
from broadcaster.i18n import N_, _

PROBE_URL = "https://translate.google.com/"
NO_AUDIO = N_("Google Translate answered without audio (the service may have changed: upgrade gTTS)")


class GttsEngine(OnlineEngine):
    name = "gtts"

    def __init__(self, timeout: tuple[float, float] = (3.05, 20.0), **options):
        super().__init__(timeout, **options)

    def version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version
        try:
            return version("gTTS")   # without importing gtts (requests under it)
        except PackageNotFoundError:
            from gtts.version import __version__
            return __version__

    def voices(self) -> list[Voice]:
        return [Voice("vi", "Northern", "female")]

    def unavailable_reason(self) -> str | None:
        try:
            import gtts  # noqa: F401
        except ImportError:
            return _("the gTTS package is not installed (pip install gTTS)")
        if self._reachable is None:
            try:
                requests.head(PROBE_URL, timeout=self.timeout[0], allow_redirects=False)
                self._reachable = True
            except requests.RequestException:
                self._reachable = False
        return None if self._reachable else _("Google Translate cannot be reached (no internet?)")

    def synthesize(self, text: str, voice: str, rate: float, pitch: float = 0.0) -> Speech:
        from gtts import gTTS
        lang = self.voice_for(voice)
        tts = gTTS(text, lang=lang, slow=rate < 0.85, lang_check=False, timeout=self.timeout)
        # one MP3 per request (gTTS splits long text at ~100 characters): decode each
        parts = self.with_retries(lambda: list(tts.stream()))
        if not parts:
            raise SynthesisError(_(NO_AUDIO), hint=_(OFFLINE_HINT))
        decoded = [decode_bytes(p, what=_("audio from Google Translate")) for p in parts]
        return Speech(np.concatenate([mono(s) for s, _r in decoded]), decoded[0][1])

    def _classify(self, e: Exception, attempt: int) -> tuple[SynthesisError, float | None]:
        """The error to raise, and how long to wait before retrying (None: do not retry)."""
        rsp = getattr(e, "rsp", None)
        cause = e.__context__ or e
        delay = self.delay(attempt)
        if rsp is not None:
            status = rsp.status_code
            if status == 429 or status >= 500:
                after = rsp.headers.get("Retry-After", "")
                if after.isdigit():
                    delay = min(self.max_wait, float(after))
                return SynthesisError(_("Google Translate refused the request (HTTP {status}) {count} times",
                                        status=status, count=attempt + 1),
                                      hint=_("try again later or use --engine espeak"), transient=True), delay
            if status == 200:
                return SynthesisError(_(NO_AUDIO), hint=_(OFFLINE_HINT)), None
            return SynthesisError(_("Google Translate rejected the request (HTTP {status})", status=status),
                                  hint=_(OFFLINE_HINT)), None
        if isinstance(cause, requests.Timeout):
            return SynthesisError(_("Google Translate did not answer in time ({count} tries)", count=attempt + 1),
                                  hint=_(OFFLINE_HINT), transient=True), delay
        if isinstance(cause, requests.ConnectionError):
            self._reachable = False
            return EngineUnavailable(_("Google Translate cannot be reached (no internet?)"),
                                     hint=_(OFFLINE_HINT)), None
        return SynthesisError(_("gTTS failed: {reason}", reason=e), hint=_(OFFLINE_HINT)), None
