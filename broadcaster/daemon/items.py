"""What a zone's worker handles: an airing waiting in its queue (``Item``), and one attached to the
zone's output stream, waiting for its sample or playing (``Flight``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from broadcaster.config.schedule import PRIORITY_RANK
from broadcaster.i18n import _

LATE_AFTER = 1.0      # an airing that starts this much after its time is logged late


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


def outcome(item: Item, pb, cut: tuple[str, str] | None,
            relay: tuple[float, float, list[str]] | None) -> tuple[str, str | None, int | None]:
    """How an airing ended, for its row: (status, reason, dropouts), from what its playback (``pb``) says, the
    cut the worker made (interrupted, failed) and a relay's (seconds relayed, of fallback, what happened)."""
    error = pb.start_error()
    # a `play` request has no slot to be late for: its time is when it was asked for
    late = (error or 0.0) if item.request is None and not item.resume else 0.0
    if cut:
        status, reason = cut
    elif pb.feeder.error or pb.error:
        status, reason = "failed", pb.feeder.error or pb.error
    elif item.live is not None:
        status, reason = "played", item.live.summary()
    elif late > LATE_AFTER:
        status, reason = "late", item.note or _("started {seconds} s late: the zone was busy", seconds=f"{late:.1f}")
    else:
        status, reason = "played", None
    if relay and (cut or status != "failed"):
        relayed, _fallback, events = relay
        if not cut and relayed <= 0:
            status = "failed"   # nothing of the source reached the air
        if events:
            reason = "; ".join(([reason] if reason else []) + events)
    dropouts = pb.underruns if pb.started_at is not None else None
    if dropouts:   # never hidden behind "played": said on the row, and counted
        reason = "; ".join(([reason] if reason else []) + [_(
            "{count} dropout(s): the sound card ran out of audio (this PC fell behind)", count=dropouts)])
    return status, reason, dropouts
