"""A daemon part that runs its own asyncio event loop in one thread (the NATS client is asynchronous,
the daemon's other parts are not).

Stopping is normal: when ``main`` returns, every task still pending in the loop (the NATS client's
own readers and pingers among them) is cancelled and awaited before the loop closes, so a stopped
daemon exits 0 without "Task was destroyed but it is pending!" or "Event loop is closed"; an
exception nobody awaited while stopping (a connection closed under a task) is expected then and
only noted at debug level.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from broadcaster.daemon.parts import Part

log = logging.getLogger("broadcaster.fleet")


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
            self.loop.set_exception_handler(self._unhandled)
            self.stopping = asyncio.Event()
            ready.set()
            try:
                self.loop.run_until_complete(self.main())
            finally:
                self._wind_down()
                self.loop.close()
        self.thread = threading.Thread(target=run, name=self.name, daemon=True)
        self.thread.start()
        ready.wait(5)

    async def until_stopped(self, *coros) -> None:
        """Run these together until ``stop`` or until one of them ends; an exception of one is raised
        here (the link's session is then started again by the caller), and the others are cancelled."""
        tasks = [asyncio.create_task(c) for c in coros]
        stop = asyncio.create_task(self.stopping.wait())
        try:
            done, _pending = await asyncio.wait([stop, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not stop and t.exception():
                    raise t.exception()
        finally:
            for t in (stop, *tasks):
                t.cancel()
            await asyncio.gather(stop, *tasks, return_exceptions=True)

    def _wind_down(self) -> None:
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())

    def _unhandled(self, loop, context: dict) -> None:
        if self.stopping is not None and self.stopping.is_set():
            log.debug("%s: while stopping: %s", self.name, context.get("message"))
            return
        error = context.get("exception")
        log.warning("%s: %s%s", self.name, context.get("message", ""), f" ({type(error).__name__}: {error})"
                    if error else "")

    def stop(self) -> None:
        if self.loop is not None and self.stopping is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stopping.set)
            self.thread.join(10)
