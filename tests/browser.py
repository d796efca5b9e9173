"""A real headless browser (Debian's chromium) driven over the DevTools protocol.

Loads a page, and reports what a person would see and what the browser complained
about: uncaught exceptions, console errors, failed loads. aiohttp speaks the
DevTools websocket; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@dataclass
class PageLoad:
    errors: list[str] = field(default_factory=list)
    values: dict = field(default_factory=dict)
    screenshot: bytes = b""


def load(path: Path, *, evaluate: dict[str, str] | None = None, width: int = 1200, timeout: float = 60) -> PageLoad:
    """Open ``path`` in headless chromium; full-page screenshot, complaints, and evaluated expressions."""
    import time
    with Tab(width=width) as tab:
        tab.go(path.resolve().as_uri(), timeout=timeout)
        time.sleep(0.5)  # late console messages
        values = {name: tab.js(expression) for name, expression in (evaluate or {}).items()}
        return PageLoad(list(tab.errors), values, tab.screenshot())


def _devtools_url(proc: subprocess.Popen, timeout: float) -> str:
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    seen = []
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError("chromium did not start: " + "".join(seen[-20:])) from None
        seen.append(line)
        m = re.search(r"DevTools listening on (ws://\S+)", line)
        if m:
            return m.group(1)


class Tab:
    """One tab of a headless chromium, driven step by step: go to a page, type, click, wait, look.

    Typing goes through the DevTools Input domain (real key events into the focused field);
    clicks are the page's own element.click(). Complaints are collected as in ``load``.
    """

    def __init__(self, width: int = 1280, height: int = 900, args: tuple[str, ...] = ()):
        self.width, self.height, self.args = width, height, args
        self.errors: list[str] = []

    def __enter__(self) -> "Tab":
        self._profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
        profile = self._profile.name
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
             "--disable-background-networking", "--disable-component-update", "--mute-audio",
             "--autoplay-policy=no-user-gesture-required",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", *self.args, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "HOME": profile, **(
                {"LANGUAGE": lang[7:], "LANG": f"{lang[7:]}_VN.UTF-8"} if (lang := next(
                    (a for a in self.args if a.startswith("--lang=")), None)) else {})})
        url = _devtools_url(self.proc, 60)
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self._open(url))
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.loop.run_until_complete(self._close())
        finally:
            self.loop.close()
            self.proc.kill()
            self.proc.wait()
            self._profile.cleanup()

    async def _open(self, url: str) -> None:
        import aiohttp
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future] = {}
        self.loaded = asyncio.Event()
        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(url, max_msg_size=0)
        self.listener = asyncio.create_task(self._listen())
        target = await self._call("Target.createTarget", {"url": "about:blank"})
        self.session = (await self._call("Target.attachToTarget", {"targetId": target["targetId"],
                                                                    "flatten": True}))["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            await self._call(f"{domain}.enable", session=self.session)
        await self._call("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                                                                "deviceScaleFactor": 1, "mobile": False}, self.session)

    async def _close(self) -> None:
        self.listener.cancel()
        await self.ws.close()
        await self.http.close()

    async def _call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        i = next(self.ids)
        self.pending[i] = asyncio.get_running_loop().create_future()
        await self.ws.send_str(json.dumps({"id": i, "method": method, "params": params or {},
                                           **({"sessionId": session} if session else {})}))
        return await asyncio.wait_for(self.pending[i], 60)

    async def _listen(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data:
                fut = self.pending.pop(data["id"], None)
                if fut is None:
                    continue
                if "error" in data:
                    fut.set_exception(RuntimeError(f"{data['error']}"))
                else:
                    fut.set_result(data.get("result", {}))
                continue
            method, params = data.get("method"), data.get("params", {})
            if method == "Page.loadEventFired":
                self.loaded.set()
            elif method == "Runtime.exceptionThrown":
                d = params["exceptionDetails"]
                self.errors.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                self.errors.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                          for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                self.errors.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def go(self, url: str, timeout: float = 30) -> None:
        async def go():
            self.loaded.clear()
            await self._call("Page.navigate", {"url": url}, self.session)
            await asyncio.wait_for(self.loaded.wait(), timeout)
        self.run(go())

    def js(self, expression: str):
        async def ev():
            r = await self._call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                      "awaitPromise": True}, self.session)
            if "exceptionDetails" in r:
                raise RuntimeError(r["exceptionDetails"].get("exception", {}).get("description") or str(r))
            return r["result"].get("value")
        return self.run(ev())

    def type(self, selector: str, text: str, *, clear: bool = True) -> None:
        reset = 'e.value = "";' if clear else "e.selectionStart = e.selectionEnd = e.value.length;"
        self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.focus(); {reset} }})()")
        self.run(self._call("Input.insertText", {"text": text}, self.session))

    def click(self, selector: str, *, navigates: bool = True) -> None:
        self.loaded.clear()
        self.js(f"document.querySelector({json.dumps(selector)}).click()")
        if navigates:
            self.run(asyncio.wait_for(self.loaded.wait(), 60))

    def wait_for(self, expression: str, timeout: float = 20):
        import time
        deadline = time.time() + timeout
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.time() > deadline:
                raise AssertionError(f"not true after {timeout} s: {expression}; the page says: "
                                     f"{str(self.js('document.body.innerText'))[:1500]}")
            time.sleep(0.2)

    def screenshot(self, path: Path | None = None) -> bytes:
        import base64

        async def shot():
            metrics = await self._call("Page.getLayoutMetrics", session=self.session)
            size = metrics["cssContentSize"]
            r = await self._call("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}}, self.session)
            return base64.b64decode(r["data"])
        data = self.run(shot())
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return data
