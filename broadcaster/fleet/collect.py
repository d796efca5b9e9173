"""At a hub: every station's play-log rows, from the log stream into the hub's own play log.

A durable consumer keeps the place, so rows are neither lost nor taken twice across restarts;
a row's newer version (an airing that ended) replaces the older one. The station is taken from
the subject the server accepted the row on (each station may publish only on its own), never
from the row itself. Every message is parsed into a typed row first (``fleet.records``); one that
does not parse is quarantined, counted and raised as an alert naming its station, and acked: it
never stops the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo
from pathlib import Path

from broadcaster.errors import BroadcasterError, FleetError
from broadcaster.fleet import names
from broadcaster.fleet.client import Link
from broadcaster.fleet.credentials import hub_credentials
from broadcaster.fleet.records import Rejected, parse_row
from broadcaster.i18n import _
from broadcaster.fleet.background import LoopPart
from broadcaster.records.alerts import AlertLog
from broadcaster.records.playlog import Journal

log = logging.getLogger("broadcaster.fleet")

BATCH = 1000


ROLLOUT_EVERY = 3.0   # seconds between looks at a release going down
HOLD = 12          # times a row for a station not (yet) known beneath its sender is held back, 5 s each


class Beneath:
    """Whom each station of this hub may speak for in the rows it passes up (their ``path``). Where the
    account files of the hubs below are (the top: ``state/fleet/accounts/``), exactly the stations of
    the accounts beneath it, known before any heartbeat; elsewhere, the tree its latest heartbeat
    shows. A leaf speaks for itself only."""

    def __init__(self, cfg, below=dict):
        from broadcaster.fleet.credentials import fleet_dir
        self.me, self.folder, self.below = cfg.fleet.name, fleet_dir(cfg) / "accounts", below
        self._read: tuple | None = None
        self._looked = -1e9
        self.accounts: dict[str, dict] = {}

    def _accounts(self) -> dict[str, dict]:
        from broadcaster.errors import ConfigError
        from broadcaster.fleet.accounts import read_accounts_below
        if time.monotonic() - self._looked < 2.0:   # (once per batch of rows, not once per row)
            return self.accounts
        self._looked = time.monotonic()
        try:
            mark = (self.folder.stat().st_mtime_ns, len(list(self.folder.glob("*.json"))))
        except OSError:
            return {}
        if mark != self._read:
            try:
                self.accounts = read_accounts_below(self.folder, self.me)
            except ConfigError:
                self.accounts = {}
            self._read = mark
        return self.accounts

    def check(self, sender: str, path: str) -> bool | None:
        """True: ``sender`` may speak for ``path``; False: never; None: not known yet."""
        accounts, parts = self._accounts(), path.split("/")
        if accounts:
            parent = self.me
            for node, part in zip([sender, *parts], parts):
                acc = accounts.get(node)
                if acc is None or acc["parent"] != parent or part not in acc["stations"]:
                    return False
                parent = node
            return True
        node = self.below().get(sender)
        for part in parts:
            st = node.get("stations") if isinstance(node, dict) else None
            if not isinstance(st, dict) or part not in st:
                return None
            node = st[part]
        return True

    def prune(self, station: str, state: dict) -> dict:
        """A station's heartbeat summary with only the stations it may speak for beneath it."""
        accounts = self._accounts()
        if not accounts or not isinstance(state.get("stations"), dict):
            return state
        acc = accounts.get(station)
        if acc is None or acc["parent"] != self.me:
            return {k: v for k, v in state.items() if k != "stations"}

        def keep(owner: str, tree: dict) -> dict:
            mine = accounts.get(owner, {}).get("stations", {})
            return {s: ({**v, "stations": keep(s, v["stations"])} if isinstance(v.get("stations"), dict)
                        and accounts.get(s, {}).get("parent") == owner else {k: x for k, x in v.items() if k != "stations"})
                    for s, v in tree.items() if s in mine and isinstance(v, dict)}
        return {**state, "stations": keep(station, state["stations"])}


async def collect(link: Link, journal: Journal, *, beneath: Beneath, until_idle: float | None = 0.5,
                  tz=timezone.utc) -> int:
    """Take what the log stream holds for the hub; with ``until_idle`` stop after that many
    seconds with nothing new, else run until cancelled. Returns how many rows were taken. ``tz``: the
    hub's time zone, in which what it records (when rows came, its alerts) is written and shown. A row
    for a station not known beneath its sender is held back a while (its heartbeat may be on its
    way), then kept aside with an alert."""
    sub = await link.log_consumer()
    total = 0
    while True:
        try:
            msgs = await sub.fetch(BATCH, timeout=until_idle or 5)
        except Exception as e:
            if isinstance(e, asyncio.TimeoutError) or type(e).__name__ == "TimeoutError":
                if until_idle:
                    return total
                continue
            raise FleetError(_("the message server did not answer ({what}): {reason}", what=_("read the play logs"),
                               reason=type(e).__name__)) from None
        received = datetime.now(tz)
        rows, held = [], []
        for m in msgs:
            station = m.subject.split(".", 2)[2] if m.subject.count(".") >= 2 else "?"
            parsed = parse_row(m.data, station)
            if not isinstance(parsed, Rejected) and parsed["station"] != station:
                path = parsed["station"][len(station) + 1:]
                known = beneath.check(station, path)
                if known is None and _delivered(m) < HOLD:
                    held.append(m)
                    continue
                if not known:
                    parsed = Rejected(station, f"speaks for {path}, which is not known beneath it", m.data[:512])
            if isinstance(parsed, Rejected):
                _quarantine(journal, parsed, received)
            else:
                rows.append(parsed)
        _store(journal, rows, received)
        await asyncio.gather(*(m.ack() for m in msgs if m not in held), *(m.nak(delay=5) for m in held))
        total += len(msgs) - len(held)


def _delivered(m) -> int:
    try:
        return m.metadata.num_delivered or 1
    except Exception:
        return HOLD


def _quarantine(journal: Journal, bad: Rejected, received: datetime) -> None:
    """Keep a bad message aside, say so once per station in the log, and raise an alert naming the station."""
    journal.quarantine(bad.station, bad.reason, bad.data, received)
    if AlertLog(journal).raise_(bad.station, "malformed", _("station {station} sent a message that is not a valid "
                                                            "play-log row ({reason}); it was kept aside",
                                                            station=bad.station, reason=bad.reason), received):
        log.warning(_("station {station} sent a message that is not a valid play-log row ({reason}); it was kept "
                      "aside, the other rows go on", station=bad.station, reason=bad.reason))


def _store(journal: Journal, rows: list[dict], received: datetime) -> None:
    """The rows, together; if the database refuses the batch, one by one, so one row never holds back the rest."""
    try:
        journal.store_station_rows(rows, received)
        return
    except BroadcasterError:
        pass
    for row in rows:
        try:
            journal.store_station_rows([row], received)
        except BroadcasterError as e:
            _quarantine(journal, Rejected(row["station"], str(e), json.dumps(row).encode()[:512]), received)


async def heard_beneath(cfg, link: Link) -> Beneath:
    """For a command run once (no daemon's readings): whom each station may speak for, its heartbeat read now."""
    try:
        states = await link.states(cfg.stations())
    except FleetError:
        states = {}
    return Beneath(cfg, lambda: states)


async def collect_once(cfg, journal: Journal) -> int:
    link = Link(hub_credentials(cfg))
    await link.connect(name="broadcaster hub")
    try:
        return await collect(link, journal, beneath=await heard_beneath(cfg, link), tz=ZoneInfo(cfg.timezone))
    finally:
        await link.close()


SPREAD_EVERY = 30.0    # seconds between looks at which servers lead the audio streams
BELOW_EVERY = 5.0      # seconds between readings of the stations' heartbeats
REPUBLISH_POLL = 2.0   # how often a hub looks whether the hub above sent a new programme


class HubLink(LoopPart):
    """In a hub's daemon, the link to the stations below it: their play-log rows taken as they arrive;
    their latest heartbeats kept (a hub that is itself a station sends them up with its own, so every
    level above sees the whole subtree); commands from above passed down to the stations that serve
    their zones; and, when the hub above sends a new programme, this hub's stations get theirs again
    (its slots for their zones included) without anyone at this hub doing anything."""

    name = "hub"

    def start(self) -> None:
        self.creds = hub_credentials(self.d.cfg)
        self.below: dict[str, dict] = {}
        self.beneath = Beneath(self.d.cfg, lambda: self.below)
        self._told: dict[str, list[str]] = {}
        self.published_for = None
        self.published: dict[str, int | None] = {}   # each station's programme version on the server, as passed down
        self._queue: asyncio.Queue | None = None
        self._live: asyncio.Queue | None = None
        from broadcaster.fleet.live import LiveBelow
        from broadcaster.fleet.orders import EmergencyBelow
        from broadcaster.daemon.emergencies import Emergencies
        from broadcaster.daemon.live import LiveDesk
        self.d.get(Emergencies).below = EmergencyBelow(self.d)   # an emergency here reaches the stations below
        self.d.get(LiveDesk).below = LiveBelow(self)             # and a live voice spoken here
        super().start()

    def live_routes(self, zones: list[str], *, origin: bool, covered=()) -> list[tuple[list[str], list[str]]]:
        from broadcaster.fleet.live import live_routes
        return live_routes(self.d.cfg, self.below, zones, origin=origin, covered=covered)

    def send_live(self, subjects: list[str], data: bytes) -> None:
        """A live voice's message to these subjects, in order (called from other threads); dropped while
        the link is down: a voice is now or never."""
        if self.loop is not None and self._live is not None and subjects:
            self.loop.call_soon_threadsafe(self._live.put_nowait, (subjects, data))

    def relay(self, raw: bytes, doc: dict, audio: Path) -> None:
        """Pass a command from above to the stations below serving its zones (called from another thread);
        ``audio`` is its file, already fetched and checked by this node."""
        if self.loop is not None and self._queue is not None:
            self.loop.call_soon_threadsafe(self._queue.put_nowait, (raw, doc, audio))

    async def main(self) -> None:
        said = None
        self._queue, self._live = asyncio.Queue(), asyncio.Queue()
        while not self.stopping.is_set():
            link = Link(self.creds)
            try:
                await link.connect(name=f"broadcaster hub {self.creds.hub}", forever=True)
                await link.ensure_layout(self.d.cfg.stations())
                said = None
                await self.until_stopped(collect(link, self.d.journal, beneath=self.beneath, until_idle=None, tz=self.d.tz), self._watch_below(link),
                                         self._republish(link), self._relay(link), self._live_out(link),
                                         self._spread(link), self._rollout(link))
            except FleetError as e:
                if str(e) != said:
                    log.warning(_("link to the stations below: {reason}; trying again", reason=e))
                said = str(e)
            except Exception:   # never let one bad moment stop the collection for good
                log.exception(_("link to the stations below: unexpected error; trying again"))
            finally:
                await link.close()
            try:
                await asyncio.wait_for(self.stopping.wait(), 5)
            except asyncio.TimeoutError:
                pass

    async def _watch_below(self, link: Link) -> None:
        """The stations' latest heartbeats, shortened to what the levels above show."""
        from broadcaster.fleet.orders import save_tree
        while True:
            mine = self.d.cfg.stations()
            try:
                states = await link.states(mine, within=BELOW_EVERY)
            except FleetError:
                states = {}
            # a reading that misses some (the server slow while a cluster elects a leader) keeps what was
            # known of them: a station gone for good ages out of the bucket (a day) and of the list
            kept = {s: v for s, v in self.below.items() if s in mine}
            self.below = {**kept, **{s: {**self.beneath.prune(s, summary(st)), "published": self.published.get(s)}
                                     for s, st in states.items() if s in mine}}
            self._say_tree()
            await self.loop.run_in_executor(None, save_tree, self.d.cfg, self.below)   # for a warning sent from here
            await asyncio.sleep(BELOW_EVERY)

    def _say_tree(self) -> None:
        """One line when the stations known below a station of this hub change (a live voice and an
        urgent command go straight to them from then on)."""
        for s, v in sorted(self.below.items()):
            below = v.get("stations") if isinstance(v.get("stations"), dict) else {}
            subs = [f"{x} ({', '.join(map(str, below[x].get('zones') or ()))})" if isinstance(below[x], dict) else str(x)
                    for x in sorted(below)]
            if subs and subs != self._told.get(s):
                log.info(_("stations known below {station}: {stations}", station=s, stations=", ".join(subs)))
            self._told[s] = subs

    async def _rollout(self, link: Link) -> None:
        """A release of broadcaster going down (``fleet.release``): stopped when too many stations failed
        with it, promoted by its rule, and the server kept saying what the rollout says."""
        from broadcaster.fleet import release
        said, applied = None, (None, 0.0)
        while True:
            cfg, now = self.d.cfg, time.time()
            r = release.read_rollout(cfg)
            if r is not None and not r.get("done"):
                what = release.review(r, self.below, now)
                if what == "stop":
                    reason = release.stop_reason(r, self.below)
                    r = release.change(cfg, lambda x: x.update(stopped=reason))
                    log.error(_("the rollout of version {version} stopped: {reason}", version=r["release"]["version"],
                                reason=reason))
                elif what == "promote":
                    r = release.promote(cfg, now)
                    log.warning(_("the rollout of version {version} goes on to all stations (its first stage was "
                                  "healthy)", version=r["release"]["version"]))
                mark = (r["release"]["id"], r["stage"], r.get("stopped"))
                try:   # (the server asked again when the rollout changed, else once a minute)
                    if applied[0] != mark or now - applied[1] > 60:
                        await release.apply(link, cfg, r, self.below)
                        applied, said = (mark, now), None
                except BroadcasterError as e:
                    if str(e) != said:
                        log.error(_("the release could not be passed down: {reason}", reason=e))
                    said = str(e)
                if r.get("stopped") is None and r["stage"] + 1 == len(r["stages"]) and \
                        len(release.tally(r, self.below)["healthy"]) == len(release.targets(r)):
                    release.change(cfg, lambda x: x.update(done=now))
                    log.info(_("version {version} runs on all {count} station(s)", version=r["release"]["version"],
                               count=len(release.targets(r))))
            await asyncio.sleep(ROLLOUT_EVERY)

    async def _spread(self, link: Link) -> None:
        from broadcaster.fleet.publish import spread_leaders
        while True:
            moved = await spread_leaders(link)
            if moved:
                log.info(_("the audio streams were both led by {server}: one moved to another server", server=moved))
            await asyncio.sleep(SPREAD_EVERY)

    async def _republish(self, link: Link) -> None:
        from broadcaster.fleet.publish import plan, publish
        said = None
        while True:
            cfg = self.d.cfg
            version = (cfg.programme or {}).get("version")
            if version is not None and version != self.published_for:
                try:
                    plans, files = await self.loop.run_in_executor(None, plan, cfg, self.creds.signing_key,
                                                                   self.d.clock.now())
                    await publish(link, cfg, plans, files)
                    changed = [p.station for p in plans if not p.unchanged]
                    self.published = {p.station: p.published for p in plans}   # sent up with their heartbeats
                    self.published_for, said = version, None
                    log.info(_("the hub's programme {version} passed down: {stations}", version=version,
                               stations=", ".join(changed) or _("nothing changed")))
                except FleetError:
                    raise
                except BroadcasterError as e:
                    if str(e) != said:
                        log.error(_("the hub's programme {version} could not be passed down: {reason}",
                                    version=version, reason=e))
                    said = str(e)
            await asyncio.sleep(REPUBLISH_POLL)

    async def _live_out(self, link: Link) -> None:
        while True:
            subjects, data = await self._live.get()
            if link.connected:
                for subject in subjects:
                    await link.publish_live(subject, data)

    async def _relay(self, link: Link) -> None:
        while True:
            raw, doc, audio = item = await self._queue.get()
            cfg = self.d.cfg
            zones = set(doc.get("zones") or ())
            mine = [s for s in cfg.stations() if not zones or zones & set(cfg.zones_of(s))]
            await link.send_now([names.now_subject(s) for s in mine], raw)   # at once: they fetch the audio as it comes
            try:   # the audio into this hub's own store first: its stations read only there
                if audio is not None and not await link.has_object(doc["audio"]["sha256"]):
                    await link.put_object(doc["audio"]["sha256"], audio)
            except FleetError:
                await self._queue.put(item)   # the link dropped: again when it is back
                raise
            for s in mine:
                try:
                    await link.send_command(s, raw, doc["id"])
                except FleetError:
                    await self._queue.put(item)
                    raise
                log.info(_("command {id} from {hub} passed down to station {station}", id=doc["id"][:8],
                           hub=doc.get("signer"), station=s))


def summary(state: dict) -> dict:
    """What a hub passes up of one station's heartbeat (its own stations' included, so any depth shows)."""
    if not isinstance(state, dict):
        return {}
    keep = ("time", "software", "format", "update", "programme", "playing", "backlog", "zones", "alerts", "stations")
    return {k: state[k] for k in keep if k in state}
