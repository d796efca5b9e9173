"""The planner: every half second, the airings of the next seconds go to their zones' workers.

An airing already in the play log is not planned again; one whose time passed more
than the grace period ago (the daemon was down) is logged missed. A wall clock that
jumps is told apart from time passing by the monotonic clock.
"""

from __future__ import annotations

import logging
from datetime import datetime

from broadcaster.i18n import LANGUAGES, N_, _, gettext, when
from broadcaster.daemon.parts import Periodic, PlayLog
from broadcaster.daemon.renderer import Renderer
from broadcaster.render.sidecar import sequence_lengths
from broadcaster.config.schedule import airings
from broadcaster.daemon.items import LATE_AFTER, Item
from broadcaster.daemon.zones import LEAD, Zones

log = logging.getLogger("broadcaster.daemon")

LOOKAHEAD = 10.0      # seconds of the schedule planned ahead
JUMP = 5.0            # wall clock and monotonic clock disagreeing by this much is a clock jump
JUMPED_FORWARD = N_("the system clock jumped forward by {seconds} s")


class Planner(Periodic):
    name = "plan"
    interval = 0.5
    waits_for_reload = True

    def __init__(self, daemon):
        super().__init__(daemon)
        self.planned: set[tuple] = set()
        self.planned_until: float | None = None
        self.replanned_to = 0.0
        self._last_tick: tuple[float, float] | None = None

    def start(self) -> None:
        last_seen = self.d.get(PlayLog).last_seen
        self.planned_until = (datetime.fromisoformat(last_seen).timestamp() if last_seen
                              else self.d.clock.wall())
        super().start()

    def reload(self, old, new) -> None:
        """What was planned beyond the lead is planned again from the new configuration; within it, what
        is being prepared stays, and an airing the new configuration adds there (a programme that came a
        second before its airing) is planned too, late if it must be, never lost."""
        if new == old:
            return
        now = self.d.clock.wall()
        for w in self.d.get(Zones).workers.values():
            for it in w.take(lambda it: it.slot is not None and it.scheduled.timestamp() > now + LEAD):
                self.planned.discard((it.slot, it.zone, it.scheduled.timestamp()))
        self.planned_until = min(self.planned_until or now, now - LEAD)
        self.replanned_to = now + LEAD   # up to here, an airing planned before a reload is not planned twice

    def tick(self) -> None:
        """Hand the airings of the next seconds to their zones; log the ones missed."""
        d = self.d
        now = d.clock.wall()
        mono = d.clock.monotonic()
        if self._last_tick is not None:
            drift = (now - self._last_tick[0]) - (mono - self._last_tick[1])
            if abs(drift) > JUMP:
                self._clock_jumped(drift, now)
        self._last_tick = (now, mono)
        start = self.planned_until if self.planned_until is not None else now
        horizon = now + LOOKAHEAD
        if start >= horizon:
            return
        window = airings(d.cfg, datetime.fromtimestamp(start, d.tz), datetime.fromtimestamp(horizon, d.tz),
                         zones=set(d.served), lengths=sequence_lengths(d.cfg))
        self.planned_until = horizon
        workers = d.get(Zones).workers
        renderer = d.get(Renderer)
        # (within the lead of a reload, one planned before it may have another slot number now: the same
        # airing; looked at only while the window reaches back into that lead, not at every tick)
        taken = ({(k[1], k[2]) for k in self.planned if k[2] <= self.replanned_to}
                 if start <= self.replanned_to else ())
        for a in window:
            key = (a.slot, a.zone, a.time.timestamp())
            if key in self.planned or key[1:] in taken:
                continue
            self.planned.add(key)
            if d.journal.has(a.slot, a.zone, a.time):
                continue
            if not self._slot_approved(a.slot):
                self._missed(a, _("its slot (schedule.toml line {line}) is new or changed and waits for approval",
                                  line=self._slot_line(a.slot)))
                continue
            age = now - a.time.timestamp()
            if age > d.cfg.grace:
                self._missed(a, _("the daemon was not running at {time} and the grace period ({grace} s) had passed",
                                  time=f"{a.time:%H:%M:%S}", grace=f"{d.cfg.grace:g}"))
                continue
            note = (_("played {seconds} s late, after the daemon was down", seconds=f"{age:.0f}")
                    if age > LATE_AFTER else None)
            workers[a.zone].submit(Item(a.time, a.zone, a.priority, bulletin=a.bulletin, slot=a.slot, note=note,
                                        ends=a.ends, follows=a.follows))
            if not a.relay:
                renderer.check(a.bulletin)
        self.planned = {k for k in self.planned if k[2] > now - d.cfg.grace - LOOKAHEAD}

    def _slot_approved(self, index: int) -> bool:
        cfg = self.d.cfg
        if not cfg.approval_required:
            return True
        from broadcaster.records.approval import slot_approved
        slot = next((s for s in cfg.slots if s.index == index), None)
        return slot is None or slot_approved(cfg, self.d.get(Renderer).accounts(), slot)

    def _slot_line(self, index: int):
        return next((s.line for s in self.d.cfg.slots if s.index == index), "?")

    def _missed(self, a, reason: str) -> None:
        self.d.journal.record(scheduled=a.time, zone=a.zone, bulletin=a.bulletin, priority=a.priority,
                              slot=a.slot, status="missed", reason=reason)
        log.warning(_("zone {zone}: {bulletin} at {time} missed: {reason}", zone=a.zone, bulletin=a.bulletin,
                      time=when(a.time, seconds=True), reason=reason))

    def _clock_jumped(self, drift: float, now: float) -> None:
        d = self.d
        if drift > 0:
            log.warning(_("the system clock jumped forward by {seconds} s: airings in the skipped time are logged "
                          "missed, not played all at once", seconds=f"{drift:.0f}"))
            skipped = airings(d.cfg, datetime.fromtimestamp(now - drift, d.tz),
                              datetime.fromtimestamp(now, d.tz), zones=set(d.served), lengths=sequence_lengths(d.cfg))
            for a in skipped:
                if (a.slot, a.zone, a.time.timestamp()) not in self.planned:
                    self.planned.add((a.slot, a.zone, a.time.timestamp()))
                    self._missed(a, _(JUMPED_FORWARD, seconds=f"{drift:.0f}"))
            self.planned_until = max(self.planned_until or now, now)
        else:
            # airings logged missed by a forward jump that are still to come are planned again
            prefixes = {gettext(JUMPED_FORWARD, lang).split("{")[0] for lang in LANGUAGES}
            undone = sum(d.journal.forget_missed(now, p) for p in prefixes)
            self.planned = {k for k in self.planned if k[2] < now}
            log.warning(_("the system clock jumped back by {seconds} s: planning again from the new time "
                          "({count} airing(s) logged missed by an earlier jump are still to come); airings "
                          "already in the play log are not repeated", seconds=f"{-drift:.0f}", count=undone))
            self.planned_until = now
