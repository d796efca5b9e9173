"""A local fake of Microsoft's speech websocket, for edge-tts's real code path.

It speaks the protocol edge-tts expects: a speech.config and an SSML message in,
turn.start, binary audio frames (a 2-byte header length, headers, MP3 bytes) and
turn.end out. Its plan can make a request fail at the handshake (HTTP status) or
answer with garbage.
"""

from __future__ import annotations

import asyncio
import re
import threading

from aiohttp import web

from tests.conftest import fake_mp3


class FakeEdge:
    def __init__(self):
        self.texts: list[str] = []
        self.ssml: list[str] = []
        self.plan: list[int | str] = []   # per connection: an HTTP status, "garbage", or 200 by default
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/consumer/speech/synthesize/readaloud/edge/v1?TrustedClientToken=x"

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/consumer/speech/synthesize/readaloud/edge/v1", self._ws)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _ws(self, request: web.Request):
        step = self.plan.pop(0) if self.plan else 200
        if isinstance(step, int) and step != 200:
            return web.Response(status=step, text="refused")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive_str()            # speech.config
        ssml = await ws.receive_str()     # the SSML request
        self.ssml.append(ssml)
        text = re.search(r"<prosody[^>]*>(.*?)</prosody>", ssml, re.S).group(1).strip()
        if step == "garbage":
            await ws.send_str("X-RequestId:x\r\nPath:nonsense\r\n\r\n{}")
            await ws.close()
            return ws
        self.texts.append(text)
        await ws.send_str("X-RequestId:x\r\nContent-Type:application/json; charset=utf-8\r\nPath:turn.start\r\n\r\n{}")
        header = b"X-RequestId:x\r\nContent-Type:audio/mpeg\r\nPath:audio\r\n"
        audio = fake_mp3(0.05 * len(text) + 0.2)
        for i in range(0, len(audio), 4096):
            await ws.send_bytes(len(header).to_bytes(2, "big") + header + audio[i:i + 4096])
        await ws.send_str("X-RequestId:x\r\nContent-Type:application/json; charset=utf-8\r\nPath:turn.end\r\n\r\n{}")
        await ws.close()
        return ws

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
