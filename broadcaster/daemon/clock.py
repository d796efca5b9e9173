"""The station's clock: wall time in the config's time zone, and a monotonic one. Tests may shift it."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo


class Clock:
    """The wall clock in the config's time zone, and a monotonic one. Tests may shift it."""

    def __init__(self, tz: ZoneInfo, offset: float = 0.0):
        self.tz = tz
        self.offset = offset

    def wall(self) -> float:
        return time.time() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall(), self.tz)

    def monotonic(self) -> float:
        return time.monotonic()
