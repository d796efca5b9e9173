"""edge-tts: Microsoft's neural Vietnamese voices (HoaiMy, female; NamMinh, male), online.

The only module that knows edge-tts. Same rules as gTTS: HTTP 429/5xx and
time-outs are retried with back-off; a service that cannot be reached makes the
engine unavailable so that a preference list falls back to the next engine.
"""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

from broadcaster.audio.files import decode_bytes
from broadcaster.engines import OFFLINE_HINT, EngineUnavailable, OnlineEngine, Speech, SynthesisError, Voice, mono
from broadcaster.i18n import _

VOICES = [Voice("vi-VN-HoaiMyNeural", "Northern", "female"), Voice("vi-VN-NamMinhNeural", "Northern", "male")]


class EdgeEngine(OnlineEngine):
    name = "edge"

    def version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version
        try:
            return version("edge-tts")   # without importing edge_tts (aiohttp under it is slow to import)
        except PackageNotFoundError:
            from edge_tts.version import __version__
            return __version__

    def voices(self) -> list[Voice]:
        return list(VOICES)

    def voice_for(self, wanted: str) -> str:
        short = {"hoaimy": "vi-VN-HoaiMyNeural", "namminh": "vi-VN-NamMinhNeural",
                 "female": "vi-VN-HoaiMyNeural", "male": "vi-VN-NamMinhNeural"}
        return short.get(wanted.lower(), None) or super().voice_for(wanted)

    def unavailable_reason(self) -> str | None:
        try:
            from edge_tts import communicate
        except ImportError:
            return _("the edge-tts package is not installed (pip install edge-tts)")
        if self._reachable is None:
            url = urlsplit(communicate.WSS_URL)
            port = url.port or (443 if url.scheme == "wss" else 80)
            try:
                socket.create_connection((url.hostname, port), timeout=3).close()
                self._reachable = True
            except OSError:
                self._reachable = False
        return None if self._reachable else _("Microsoft's speech service cannot be reached (no internet?)")

    def synthesize(self, text: str, voice: str, rate: float, pitch: float = 0.0) -> Speech:
        import edge_tts
        name = self.voice_for(voice)

        async def fetch() -> bytes:
            tts = edge_tts.Communicate(text, name, rate=f"{round((rate - 1) * 100):+d}%",
                                       pitch=f"{round(pitch):+d}Hz", receive_timeout=int(self.timeout))
            audio = bytearray()
            async for chunk in tts.stream():
                if chunk["type"] == "audio":
                    audio += chunk["data"]
            return bytes(audio)

        data = self.with_retries(lambda: asyncio.run(fetch()))
        samples, sr = decode_bytes(data, what=_("audio from Microsoft's speech service"))
        return Speech(mono(samples), sr)

    def _classify(self, e: Exception, attempt: int) -> tuple[SynthesisError, float | None]:
        import aiohttp
        from edge_tts import exceptions as edge_errors
        delay = self.delay(attempt)
        if isinstance(e, aiohttp.WSServerHandshakeError):
            if e.status == 429 or e.status >= 500:
                return SynthesisError(_("Microsoft's speech service refused the request (HTTP {status}) {count} times",
                                        status=e.status, count=attempt + 1),
                                      hint=_(OFFLINE_HINT), transient=True), delay
            return SynthesisError(_("Microsoft's speech service rejected the request (HTTP {status}); "
                                    "edge-tts may need upgrading", status=e.status), hint=_(OFFLINE_HINT)), None
        if isinstance(e, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
            return SynthesisError(_("Microsoft's speech service did not answer in time ({count} tries)",
                                    count=attempt + 1), hint=_(OFFLINE_HINT), transient=True), delay
        if isinstance(e, (aiohttp.ClientConnectionError, OSError)):
            self._reachable = False
            return EngineUnavailable(_("Microsoft's speech service cannot be reached (no internet?)"),
                                     hint=_(OFFLINE_HINT)), None
        if isinstance(e, edge_errors.EdgeTTSException):
            return SynthesisError(_("Microsoft's speech service answered without usable audio ({reason})", reason=e),
                                  hint=_(OFFLINE_HINT)), None
        return SynthesisError(_("edge-tts failed: {reason}", reason=e), hint=_(OFFLINE_HINT)), None
