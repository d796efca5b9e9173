"""A station's link to its hub, as a part of the daemon: programme, heartbeat, play log, commands.

A station that is itself a hub (a commune under its province) also passes up the rows it collected
from its own stations and their heartbeats, and passes commands from above down to them.

It runs its own event loop in one thread. It reconnects forever with back-off; while the link is
down nothing else notices: the zones play the last good programme, rows wait in the play log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import shutil
import time
from datetime import datetime

from broadcaster import __version__
from broadcaster.errors import BroadcasterError, FleetError, RefusedError
from broadcaster.fleet import names
from broadcaster.fleet.client import Link
from broadcaster.fleet.credentials import Credentials, up_credentials
from broadcaster.fleet.install import install, installed_version, store_audio, store_path
from broadcaster.fleet.manifest import read_manifest
from broadcaster.fleet.orders import read_command
from broadcaster.i18n import _
from broadcaster.records.alerts import AlertLog
from broadcaster.fleet.background import LoopPart

log = logging.getLogger("broadcaster.fleet")

HEARTBEAT = 3.0       # seconds between heartbeats
PROGRAMME_POLL = 10.0  # the programme is also asked for this often (the watch may miss one while reconnecting)
OUTBOX_POLL = 1.0
MAX_BACKOFF = 15.0   # seconds between tries at most: rows held while the server was down reach the hub within 30 s


class StationLink(LoopPart):
    """A station's link to the hub above it (when schedule.toml has [fleet] with station)."""

    name = "fleet"

    def __init__(self, daemon):
        super().__init__(daemon)
        self.creds: Credentials | None = None
        self.online = False
        self.alerts: dict[str, str] = {}
        self.refused_version: int | None = None
        self._said: str | None = None
        self._wake: asyncio.Event | None = None   # set: look for a new programme now
        self._pushed: bytes | None = None         # the programme the watch just delivered
        self._now: list[asyncio.Task] = []         # commands that came on core NATS, being taken
        self._seen: dict[str, None] = {}            # the ids of the last of them

    @property
    def station(self) -> str:
        return self.d.cfg.fleet.station

    def start(self) -> None:
        from broadcaster.fleet.live import LiveIn
        self.creds = up_credentials(self.d.cfg)
        self.live = LiveIn(self.d, self.creds.keys, hub=self.hub())
        super().start()

    def stop(self) -> None:
        super().stop()
        if getattr(self, "live", None) is not None:
            self.live.close()   # the voices from above end here with a fade

    # --- the connection ------------------------------------------------------------

    async def main(self) -> None:
        backoff = 1.0
        while not self.stopping.is_set():
            link = Link(self.creds)
            try:
                await link.connect(name=f"broadcaster station {self.station}", forever=True,
                                   on_change=self._on_change)
                self._say(None)
                backoff = 1.0
                await self._session(link)
            except FleetError as e:
                self._say(_("link to the hub: {reason}; trying again (at least every 15 s) and playing on "
                            "from the last programme", reason=e))
            except Exception:
                log.exception(_("link to the hub failed; trying again"))
            finally:
                self.online = False
                await link.close()
            try:
                await asyncio.wait_for(self.stopping.wait(), backoff * random.uniform(0.8, 1.2))
            except asyncio.TimeoutError:
                pass
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _on_change(self, up: bool) -> None:
        if up != self.online:
            log.info(_("link to the hub: connected") if up else _("link to the hub: lost; playing on from the last programme"))
        if up and not self.online and self._wake is not None:
            self._wake.set()   # a programme published while the link was down has no watch event: ask now
        self.online = up

    def _say(self, message: str | None) -> None:
        """Log a link problem once, not at every retry."""
        if message and message != self._said:
            log.warning(message)
        self._said = message

    async def _session(self, link: Link) -> None:
        wake = self._wake = asyncio.Event()

        async def changed(data: bytes | None):
            self._pushed = data
            wake.set()
        await link.on_manifest(changed)
        await link.on(names.live_subject(self.station), self.live.take)
        self._one = asyncio.Lock()   # one command taken at a time, whichever way it came
        await link.on(names.now_subject(self.station), lambda data: self._now.append(asyncio.ensure_future(self._take_now(link, data))))
        try:
            await self.until_stopped(self._programmes(link, wake), self._heartbeats(link), self._outbox(link),
                                     self._commands(link), self._releases(link))
        finally:
            for t in self._now:   # their stream copies come with the next link
                t.cancel()

    def _fetcher(self, link: Link):
        """A blocking fetch (for the installer, in a worker thread) through this loop."""
        def fetch(sha: str, into) -> None:
            asyncio.run_coroutine_threadsafe(link.fetch_object(sha, into), self.loop).result(600)
        return fetch

    # --- the programme ------------------------------------------------------------------

    async def _programmes(self, link: Link, wake: asyncio.Event) -> None:
        retry = 2.0
        while True:
            wait = PROGRAMME_POLL * random.uniform(0.8, 1.2)   # not every station in the same second
            try:
                await self._take_programme(link)
                retry = 2.0
            except FleetError as e:
                # busy or cut off while fetching (many stations fetch at once after a publish): again soon,
                # at a random moment so that they do not all come back together
                self._say(_("the hub's programme not fetched yet: {reason}; trying again", reason=e))
                wait, retry = retry * random.uniform(0.5, 1.5), min(retry * 2, PROGRAMME_POLL)
            try:
                await asyncio.wait_for(wake.wait(), wait)
            except asyncio.TimeoutError:
                pass
            wake.clear()

    async def _take_programme(self, link: Link) -> None:
        raw, self._pushed = self._pushed, None
        pushed = raw is not None
        raw = raw or await link.my_manifest()
        if raw is None:
            return
        cfg = self.d.cfg
        have = installed_version(cfg)
        try:
            doc = read_manifest(raw, self.creds.public, self.station, installed=have if pushed else None)
        except RefusedError as e:   # an older one written to the server (a replay) is refused and shown
            self._refuse(e, None)
            return
        if have is not None and doc["version"] < have:
            # read by a poll, older than the one installed: a server of the cluster that has not applied the
            # newest write yet answered (a direct get may come from any replica); nothing to install
            log.debug("programme version %s is older than the installed %s: ignored", doc["version"], have)
            return
        if doc["version"] == have or doc["version"] == self.refused_version:
            return
        if any(not store_path(cfg, i).is_file() for i in doc["bulletins"].values()):
            await asyncio.sleep(random.uniform(0, doc.get("spread", 0)))   # not all stations at once
        try:
            await self.loop.run_in_executor(None, install, cfg, doc, raw, self._fetcher(link))
        except RefusedError as e:
            self._refuse(e, doc["version"])
            return
        self.alerts.pop("programme", None)
        self._say(None)
        log.info(_("the hub's programme version {version} installed ({bulletins} bulletin(s), {slots} slot(s))",
                   version=doc["version"], bulletins=len(doc["bulletins"]), slots=len(doc["slots"])))

    async def _releases(self, link: Link) -> None:
        """A new version of broadcaster from the hub: verified, fetched, checked and installed beside this
        one (``fleet.update``); the daemon's Updater switches to it at a quiet moment."""
        from broadcaster.fleet.update import prepare, wanted, withdrawn
        wake, seen = asyncio.Event(), None
        try:
            await link.on(f"$KV.{names.RELEASES}.{self.station}", lambda _data: wake.set())
        except FleetError:
            pass   # a hub whose server was set up before releases: nothing to watch, nothing to fetch
        while True:
            try:
                raw = await link.kv_get(names.RELEASES, self.station)
                if raw is None:
                    withdrawn(self.d.cfg)   # taken back by the hub (its rollout stopped) before the switch
                elif raw != seen:
                    doc = wanted(self.d.cfg, raw, self.creds.keys)
                    if doc is not None:
                        await self.loop.run_in_executor(None, prepare, self.d.cfg, doc, self._fetcher(link))
                    seen = raw
                    self.alerts.pop("release", None)
            except RefusedError as e:
                seen, self.alerts["release"] = raw, str(e)
                log.error(str(e))
            except FleetError as e:   # (never ends the link: programmes and commands go on)
                log.debug("release not read: %s", e)
            try:
                await asyncio.wait_for(wake.wait(), PROGRAMME_POLL * random.uniform(0.8, 1.2))
            except asyncio.TimeoutError:
                pass
            wake.clear()

    def _refuse(self, e: BroadcasterError, version: int | None) -> None:
        self.refused_version = version
        text = _("the hub's programme refused: {reason}; the last good programme keeps playing", reason=e)
        if self.alerts.get("programme") != text:
            log.error(text)
        self.alerts["programme"] = text

    # --- heartbeat and play log ------------------------------------------------------------

    def state(self) -> dict:
        d = self.d
        journal = d.journal
        playing = [{"zone": r.zone, "bulletin": r.bulletin, "since": r.started} for r in journal.playing()]
        try:
            free = shutil.disk_usage(d.cfg.paths.state).free
        except OSError:
            free = None
        hub = self.hub()
        from broadcaster.fleet.update import read_state, report
        return {"station": self.station, "time": time.time(), "software": __version__, "format": names.HEARTBEAT_FORMAT,
                "update": report(read_state(d.cfg)),
                "programme": (d.cfg.programme or {}).get("version"), "playing": playing,
                "backlog": journal.backlog(below=hub is not None), "disk_free": free, "zones": d.served,
                "alerts": sorted(self.alerts.values()) + [a.line() for a in AlertLog(journal).active()],
                **({"stations": hub.below} if hub is not None else {})}

    def hub(self):
        """This daemon's link to its own stations, if it is a hub too."""
        from broadcaster.fleet.collect import HubLink
        try:
            return self.d.get(HubLink)
        except LookupError:
            return None

    async def _heartbeats(self, link: Link) -> None:
        while True:
            await link.heartbeat(json.dumps(self.state(), ensure_ascii=False).encode())
            await asyncio.sleep(HEARTBEAT)

    async def _outbox(self, link: Link) -> None:
        """Every row and every later version of it until the hub has it: this PC's own, and at a hub
        those collected from its stations (with their path, so the levels above know where they aired)."""
        journal = self.d.journal
        while True:
            batch = journal.unsent(200)
            for row, version in batch:
                payload = {**row.__dict__, "station": self.station, "version": version}
                await link.publish_row(json.dumps(payload, ensure_ascii=False).encode(),
                                       f"{self.station}:{row.id}:{version}")
                journal.mark_sent(row.id, version)
            below = journal.unsent_station_rows(200) if self.hub() is not None else []
            for row, version in below:
                payload = {**row.__dict__, "path": row.station, "version": version}
                payload.pop("station", None)
                await link.publish_row(json.dumps(payload, ensure_ascii=False).encode(),
                                       f"{self.station}/{row.station}:{row.id}:{version}")
                journal.mark_station_sent(row.station, row.id, version)
            if len(batch) < 200 and len(below) < 200:
                await asyncio.sleep(OUTBOX_POLL)

    # --- commands ---------------------------------------------------------------------------

    async def _commands(self, link: Link) -> None:
        sub = await link.command_consumer()
        while True:
            try:
                msgs = await sub.fetch(8, timeout=5)
            except asyncio.TimeoutError:
                continue
            except Exception as e:   # the link dropped while waiting
                if type(e).__name__ == "TimeoutError":
                    continue
                raise FleetError(str(e)) from None
            for m in msgs:
                try:
                    async with self._one:
                        await self._command(link, m.data)
                except RefusedError as e:
                    log.error(_("a command from the hub refused: {reason}", reason=e))
                except FleetError as e:
                    log.warning(_("a command from the hub not taken yet: {reason}", reason=e))
                    await m.nak(delay=5)
                    continue
                await m.ack()

    async def _take_now(self, link: Link, data: bytes) -> None:
        """A command that came on core NATS (``names.now_subject``): taken like its copy from the stream,
        once by its id; while its audio is not on the server yet (the hub sends first and uploads
        meanwhile), tried again every second until it is or its deadline passes. Never raises."""
        try:
            doc = read_command(data, self.creds.keys, self.station, self.d.served)
            if doc["id"] in self._seen:
                return   # sent again on core NATS for a link that was moving: taken already
            self._seen[doc["id"]] = None
            while len(self._seen) > 1000:
                del self._seen[next(iter(self._seen))]
            if doc.get("action") == "stop":   # (a stop has no audio and no deadline: now or by its stream copy)
                async with self._one:
                    await self._command(link, data)
                return
            while self.d.clock.now() <= datetime.fromisoformat(doc["deadline"]):
                try:
                    async with self._one:
                        await self._command(link, data)
                    return
                except FleetError:
                    await asyncio.sleep(1.0)
        except RefusedError as e:
            log.error(_("a command from the hub refused: {reason}", reason=e))
        except Exception:   # one bad message never stops the commands that follow
            log.exception(_("a command from the hub could not be taken"))
        finally:
            self._now[:] = [t for t in self._now if not t.done()]

    async def _command(self, link: Link, data: bytes) -> None:
        d = self.d
        cfg = d.cfg
        doc = read_command(data, self.creds.keys, self.station, d.served)
        journal = d.journal
        hub = self.hub()
        relay = hub is not None and doc.get("station") == self.station   # some of its zones are played below
        if doc.get("action") == "stop":
            stop_commands(d, set(doc["commands"]), _("stopped by {hub}", hub=doc["signer"]))
            if relay:
                hub.relay(data, doc, None)
            return
        taken = journal.has_command(doc["id"])   # delivered again after a reconnect, or by two ways
        if taken and not relay:
            return
        mine = [z for z, zone in cfg.zones.items() if zone.origin == "hub"] or d.served
        zones = [z for z in (doc["zones"] or mine) if z in d.served]
        now = d.clock.now()
        label = doc.get("bulletin") or doc.get("title")
        if now > datetime.fromisoformat(doc["deadline"]):
            for z in [] if taken else zones:
                journal.record(scheduled=now, zone=z, bulletin=label, priority=doc["priority"], slot=None,
                               status="missed", command=doc["id"],
                               reason=_("the hub's command reached this station after its deadline ({deadline})",
                                        deadline=doc["deadline"]))
            log.warning(_("command {id} ({item}) from the hub arrived after its deadline: logged missed",
                          id=doc["id"][:8], item=label))
            return
        path = await self.loop.run_in_executor(None, store_audio, cfg, doc["audio"], self._fetcher(link))
        if relay:
            hub.relay(data, doc, path)   # passed down as it is, still signed by whoever issued it
        if not zones and not taken and not relay:
            # addressed to this station, but none of its zones is played here yet: a programme being
            # installed (its zones come with the reload); asked again until its deadline, then logged missed
            raise FleetError(_("command {id} is for {zones}, which this station does not play (yet)",
                               id=doc["id"][:8], zones=", ".join(doc["zones"]) or "-"))
        if taken or not zones:
            return
        b = cfg.bulletins.get(doc.get("bulletin") or "")
        target = b.id if b is not None and b.output_path(cfg.paths) == path else str(path)
        for z in zones:
            journal.add_request(target, z, doc["priority"], now, command=doc["id"], label=doc.get("bulletin"))
        try:
            lag = f"{(now - datetime.fromisoformat(doc['issued'])).total_seconds():.1f}"
        except (KeyError, TypeError, ValueError):
            lag = "?"
        log.info(_("command {id} from {hub}: {item} on {zones} ({priority}), {seconds} s after it was issued",
                   id=doc["id"][:8], hub=doc["signer"], item=label, zones=", ".join(zones), priority=doc["priority"],
                   seconds=lag))


def stop_commands(d, commands: set[str], reason: str) -> int:
    """Take back what waits of these commands and fade out what of them plays; how many were stopped."""
    from broadcaster.daemon.zones import Zones
    journal = d.journal
    stopped = 0
    for w in d.get(Zones).workers.values():
        for it in w.take(lambda it: it.command in commands, cut=reason):
            if it.request is not None:
                journal.finish_request(it.request, "interrupted", reason)
            stopped += 1
    marks = ",".join("?" * len(commands))
    stopped += journal.store.write(f"UPDATE requests SET status='interrupted', reason=? WHERE status='pending' AND "
                                   f"command IN ({marks})", (reason, *commands)).rowcount
    if stopped:
        log.warning(_("{count} airing(s) of {commands} stopped: {reason}", count=stopped,
                      commands=", ".join(c[:8] for c in sorted(commands)), reason=reason))
    return stopped
