"""A daemon part that runs its own asyncio event loop in one thread (the NATS client is asynchronous,
the daemon's other parts are not)."""

from __future__ import annotations

import asyncio
import threading

from broadcaster.station.parts import Part


class LoopPart(Part):
    """Subclasses write ``main``; it runs until ``self.stopping`` is set by ``stop``."""

    def __init__(self, daemon):
        super().__init__(daemon)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.stopping: asyncio.Event | None = None

    async def main(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.stopping = asyncio.Event()
            ready.set()
            self.loop.run_until_complete(self.main())
            self.loop.close()
        self.thread = threading.Thread(target=run, name=self.name, daemon=True)
        self.thread.start()
        ready.wait(5)

    def stop(self) -> None:
        if self.loop is not None and self.stopping is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stopping.set)
            self.thread.join(10)
