"""What a zone's worker handles: an airing waiting in its queue (``Item``), and one attached to the
zone's output stream, waiting for its sample or playing (``Flight``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from broadcaster.config.schedule import PRIORITY_RANK


@dataclass(order=True)
class Item:
    """One airing waiting in a zone's queue."""
    sort_key: tuple = field(init=False, repr=False)
    scheduled: datetime = field(compare=False)
    zone: str = field(compare=False)
    priority: str = field(compare=False)
    bulletin: str | None = field(default=None, compare=False)
    audio: Path | None = field(default=None, compare=False)   # a file from `play`
    slot: int | None = field(default=None, compare=False)
    request: int | None = field(default=None, compare=False)
    note: str | None = field(default=None, compare=False)     # why it is late, if known
    command: str | None = field(default=None, compare=False)  # the hub's command id, if it came so
    ends: datetime | None = field(default=None, compare=False)  # a relay (``bulletin`` names its source): its end
    resume: bool = field(default=False, compare=False)        # a relay going on after an urgent airing
    follows: float | None = field(default=None, compare=False)  # in a sequence: seconds after the one before
    live: object = field(default=None, compare=False)           # a live voice: its feeder (audio.live)

    def __post_init__(self):
        self.sort_key = (-PRIORITY_RANK[self.priority], self.scheduled.timestamp())

    @property
    def label(self) -> str:
        return self.bulletin or (self.audio.name if self.audio else "?")

    def after(self, before: "Item") -> float | None:
        """Seconds after ``before`` ends that this one starts, when attached behind it: in a sequence, its
        gap after the one before it; a request asked for while another plays, right after; None: on its
        own time."""
        if self.follows is not None and before.slot == self.slot and before.scheduled < self.scheduled:
            return self.follows
        return 0.0 if self.request is not None else None


@dataclass
class Flight:
    """An airing attached to the zone's stream: waiting for its sample, or playing."""
    item: Item
    pb: object                 # audio.player.Playback
    path: str
    sha: str | None
    watch: object = None       # the monitor's watch (proof of air), if the zone has a monitor
    row: int | None = None     # its play log row, once written
    wait_for_end: bool = False  # the next airing can be attached only once this one has ended (another format)

    def due(self) -> float | None:
        """Real time its first sample is due (None: right after the one it follows, not yet known)."""
        return self.pb.target

    def expected_end(self) -> float:
        start = self.pb.started_at or self.pb.target or time.time()
        return start + self.pb.duration
