"""What a part of the daemon is, and the small parts every station has.

A part has ``start`` and ``stop`` and may answer ``reload`` (the configuration changed)
and ``health`` (what it has to say in the heartbeat). The daemon lists its parts once
(``daemon.daemon.PARTS``), starts them in that order and stops them in reverse, as
Mopidy does: a new part is a new module and one line in that list.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Callable

from broadcaster.errors import PlaybackError
from broadcaster.fsutil import private_dir, private_file
from broadcaster.i18n import _
from broadcaster.records.playlog import Journal

if TYPE_CHECKING:
    from broadcaster.config import Config
    from broadcaster.daemon.daemon import Daemon

log = logging.getLogger("broadcaster.daemon")


class Part:
    """One thing the daemon runs. Subclasses override what they need."""

    name = "part"

    def __init__(self, daemon: "Daemon"):
        self.d = daemon

    def start(self) -> None:
        """Called in the order of PARTS; the parts before this one are running."""

    def stop(self) -> None:
        """Called in reverse order; must not raise for a part whose start failed half-way."""

    def reload(self, old: "Config", new: "Config") -> None:
        """The configuration files changed (``new`` may equal ``old`` when only a script did)."""


def guarded(fn: Callable[[], None], what: str) -> Callable[[], None]:
    """A periodic job that logs its exception and keeps the daemon going."""
    def run() -> None:
        try:
            fn()
        except Exception:
            log.exception(_("{job} failed; the daemon keeps going", job=what))
    run.__name__ = what
    return run


class Periodic(Part):
    """A part that does its work every ``interval`` seconds on the daemon's timer."""

    interval = 1.0
    # True for the parts that hand work to the zones' workers by zone id (the planner, the requests): their
    # tick and a reload never run at once. The others (network sends among them) go on during a reload.
    waits_for_reload = False

    def start(self) -> None:
        self.tick()
        self.d.get(Timer).every(self.interval, guarded(self._tick, self.name), self.name)

    def _tick(self) -> None:
        if not self.waits_for_reload:
            return self.tick()
        with self.d.reloading:   # never half-way through a reload: the zones' workers match the configuration
            self.tick()

    def stop(self) -> None:
        timer = self.d.get(Timer)
        if timer.scheduler is not None:
            timer.cancel(self.name)

    def tick(self) -> None:
        raise NotImplementedError


class StateLock(Part):
    """One daemon per state folder: an exclusive lock on state/daemon.lock."""

    name = "lock"

    def __init__(self, daemon: "Daemon"):
        super().__init__(daemon)
        self._file = None

    def start(self) -> None:
        state = self.d.cfg.paths.state
        try:
            private_dir(state)
            f = open(state / "daemon.lock", "a+")
            private_file(state / "daemon.lock")
        except OSError as e:
            raise PlaybackError(_("cannot use the state folder {state}: {reason}", state=state, reason=e.strerror),
                                hint=_("check that it exists and is writable")) from None
        try:
            if os.name == "nt":
                import msvcrt
                msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise PlaybackError(_("another broadcaster daemon is already running on {state}", state=state),
                                hint=_("stop it first, or give this one its own state folder")) from None
        self._file = f

    def stop(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class PlayLog(Part):
    """The play log: opened, airings cut off by a crash marked interrupted, this daemon registered."""

    name = "playlog"

    def __init__(self, daemon: "Daemon"):
        super().__init__(daemon)
        self.journal: Journal | None = None
        self.last_seen: str | None = None   # the last heartbeat of the daemon before this one

    def start(self) -> None:
        self.journal = Journal(self.d.cfg.paths.state)
        now = self.d.clock.now()
        recovered = self.journal.recover(now)
        if recovered:
            log.warning(_("{count} airing(s) were cut off when the daemon last stopped: logged as interrupted",
                          count=recovered))
        self.last_seen = self.journal.meta("last_seen")
        self.journal.register_daemon(os.getpid(), self.d.served, now)

    def stop(self) -> None:
        if self.journal is not None:
            self.journal.heartbeat(os.getpid(), self.d.clock.now())
            self.journal.unregister_daemon(os.getpid())
            self.journal.close()
            self.journal = None


class Timer(Part):
    """The clock that runs the periodic parts: APScheduler's background scheduler."""

    name = "timer"

    def __init__(self, daemon: "Daemon"):
        super().__init__(daemon)
        self.scheduler = None

    def start(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler
        # each periodic part is one job, at most one run at a time: a small pool, made once
        self.scheduler = BackgroundScheduler(timezone=self.d.tz, executors={"default": ThreadPoolExecutor(4)})
        self.scheduler.start()

    def every(self, seconds: float, fn: Callable[[], None], job_id: str) -> None:
        self.scheduler.add_job(fn, "interval", seconds=seconds, id=job_id, max_instances=1, coalesce=True)

    def cancel(self, job_id: str) -> None:
        try:
            self.scheduler.remove_job(job_id)
        except Exception:  # JobLookupError: it never started
            pass

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)   # a job still running finishes first
            self.scheduler = None


class MemoryTrim(Periodic):
    """Gives the memory freed after an airing back to the system once a minute (glibc keeps it otherwise),
    so a small board's daemon stays small over weeks of airings. Nothing to do elsewhere."""

    name = "trim"
    interval = 60.0

    def __init__(self, daemon: "Daemon"):
        super().__init__(daemon)
        self._trim = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes
                self._trim = ctypes.CDLL("libc.so.6").malloc_trim
            except (OSError, AttributeError):   # not glibc (musl, …): nothing to trim with
                pass

    def tick(self) -> None:
        if self._trim is not None:
            self._trim(0)


class Heartbeat(Periodic):
    """Says every two seconds that this daemon is alive (`play` and `status` look for it)."""

    name = "heartbeat"
    interval = 2.0

    def tick(self) -> None:
        self.d.journal.heartbeat(os.getpid(), self.d.clock.now())
