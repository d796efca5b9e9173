"""A hub's commands: play this now on these stations (normal, priority or urgent "phát ngay").

A command is signed by the hub that issued it, carries its own id, the zones it is for, the audio by
SHA-256 and a deadline: a station that was offline past the deadline logs it missed instead of
playing it late. The same signed bytes go down every level: to the station it is addressed to, which
plays its own zones and passes it to its stations below serving the others, and, from the top, also
straight into the commune's account for the clusters it knows (so that a warning reaches them when
the commune's PC is off). A station plays it if it is addressed to it, or names one of its zones, and
is signed by its hub or one above; each station takes a command once, by its id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from broadcaster.errors import FleetError, RefusedError
from broadcaster.fleet import names
from broadcaster.fleet.signing import check_format, sign, verify
from broadcaster.i18n import _

log = logging.getLogger("broadcaster.fleet")

KIND = "broadcaster-command"
FORMAT = 1   # commands without one are of format 1 (written before formats were)
DEFAULT_DEADLINE = timedelta(minutes=10)


def make_command(station: str, *, bulletin: str | None, title: str, audio: dict, zones: list[str], priority: str,
                 now: datetime, deadline: datetime, signing_key: str, by: str = "hub") -> tuple[dict, bytes]:
    doc = {"kind": KIND, "format": FORMAT, "id": uuid.uuid4().hex, "station": station, "bulletin": bulletin, "title": title,
           "audio": audio, "zones": zones, "priority": priority, "issued": now.isoformat(timespec="milliseconds"),
           "deadline": deadline.isoformat(timespec="seconds"), "by": by}
    doc = sign(doc, signing_key)
    return doc, json.dumps(doc, ensure_ascii=False).encode()


def read_command(data: bytes, keys: dict[str, str], station: str, served: list[str] | None = None) -> dict:
    """The command in ``data`` if it is for this station (addressed to it, or naming one of the zones
    it ``served``) and signed by a hub in ``keys``; RefusedError otherwise. ``doc["signer"]`` says which."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RefusedError(_("a command that is not valid JSON")) from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise RefusedError(_("a message that is not a broadcaster command"))
    signer = verify(doc, keys, _("the command"))
    check_format(doc, FORMAT, _("the command"))
    if doc.get("action") == "stop":
        ids = doc.get("commands")
        if not isinstance(ids, list) or not 0 < len(ids) <= 1000 or not all(isinstance(i, str) and len(i) <= 64
                                                                         for i in ids):
            raise RefusedError(_("a stop without the commands it stops"))
        if doc.get("station") != station and not set(doc.get("zones") or ()) & set(served or ()):
            raise RefusedError(_('a command for station "{theirs}", not this one', theirs=doc.get("station")))
        return {**doc, "signer": signer}
    zones = doc.get("zones")
    if not isinstance(zones, list) or not all(isinstance(z, str) for z in zones):
        raise RefusedError(_("a command without its list of zones"))
    if doc.get("station") != station and not set(zones) & set(served or ()):
        raise RefusedError(_('a command for station "{theirs}", not this one', theirs=doc.get("station")))
    doc = {**doc, "signer": signer}
    if doc.get("priority") not in ("normal", "priority", "urgent"):
        raise RefusedError(_("a command with an unknown priority"))
    audio = doc.get("audio")
    if not isinstance(audio, dict) or not isinstance(audio.get("sha256"), str) or not isinstance(audio.get("size"), int):
        raise RefusedError(_("a command without its audio"))
    try:
        datetime.fromisoformat(doc["deadline"])
    except (KeyError, TypeError, ValueError):
        raise RefusedError(_("a command without a deadline")) from None
    return doc


def command_audio(cfg, target: str) -> tuple[dict, Path, str | None, str]:
    """What a command carries for ``target`` (a bulletin id, or an audio file the caller has checked):
    the audio's description, its file, the bulletin id if it is one, and a title."""
    from broadcaster.fleet.publish import audio_info
    from broadcaster.fsutil import sha256_file
    if target in cfg.bulletins:
        audio, path = audio_info(cfg, target)
        return audio, path, target, cfg.bulletins[target].title
    path = Path(target)
    return ({"sha256": sha256_file(path), "size": path.stat().st_size, "format": path.suffix[1:].lower()}, path,
            None, path.name)


class Sent(NamedTuple):
    station: str
    id: str           # the command's id
    sequence: int     # its place in the command stream


async def send_play(cfg, target: str, *, stations: list[str], zone: str | None, priority: str, now: datetime,
                    deadline: datetime, zones: list[str] | None = None) -> list[Sent]:
    """One signed command per station (and straight to the stations below it that serve the zones);
    ``zones`` (a group's, or several): each station gets those of its own among them.

    A warning waits on nothing it can do without: each command goes at once on core NATS, which needs
    no JetStream leader (a cluster that lost a node elects new ones for seconds), while the audio is
    uploaded if the server lacks it (the stations fetch it by hash as soon as it is there); then the
    commands' kept copies go into their streams, for the stations whose link is down now."""
    from broadcaster.fleet.client import Link
    from broadcaster.fleet.credentials import hub_credentials
    target_audio, path, bulletin, title = command_audio(cfg, target)
    sha = target_audio["sha256"]
    creds = hub_credentials(cfg)
    link = Link(creds)
    await link.connect(name="broadcaster play", forever=True)
    try:
        audio = asyncio.ensure_future(_upload(link, cfg, sha, path))
        made = {}
        for s in stations:
            wanted = zones or ([zone] if zone else None)
            mine = [z for z in cfg.zones_of(s) if wanted is None or z in wanted]
            made[s] = (*make_command(s, bulletin=bulletin, title=title, audio=target_audio, zones=mine, priority=priority,
                                     now=now, deadline=deadline, signing_key=creds.signing_key, by=cfg.fleet.name), mine)

        def routes(tree: dict) -> dict[str, list[str]]:
            """Per station, the stations below it that serve its zones, if it told us of them (its heartbeat):
            they play it even when the station in between is switched off."""
            return {s: direct_targets((tree.get(s) or {}).get("stations"), made[s][2]) for s in stations}

        def subjects(subs: dict[str, list[str]]) -> list[tuple[list[str], bytes]]:
            return [([names.now_subject(s), *(names.down_now_subject(s, sub) for sub in subs[s])], made[s][1])
                    for s in stations]
        kept_tree = load_tree(cfg)
        first = subjects(routes(kept_tree))   # at once, by the tree this hub's daemon last read …
        for subs, data in first:
            await link.send_now(subs, data)
        subs = routes(await known_below(cfg, link, stations, kept_tree))   # … then as the server has it now
        quick = subjects(subs)
        for (was, data), (known, _data) in zip(first, quick):
            if set(known) - set(was):
                await link.send_now(sorted(set(known) - set(was)), data)
        orders = [(s, made[s][0], made[s][1], subs[s]) for s in stations]

        async def at_once() -> None:   # again a little later, for the stations whose link was moving to
            for wait in AGAIN:           # another server of the cluster (taken once, by its id)
                await asyncio.sleep(wait)
                for to, data in quick:
                    await link.send_now(to, data)
        again = asyncio.ensure_future(at_once())

        async def kept(s: str, doc: dict, data: bytes, subs: list[str]) -> Sent:
            try:
                if subs and await link.send_audio_below(s, sha, path):
                    for sub in subs:
                        await link.send_command_below(s, sub, data, doc["id"])
            except FleetError:
                pass   # not exported to us (no hub below, or an older one): it goes through the station
            await audio
            return Sent(s, doc["id"], await link.send_command(s, data, doc["id"]))
        try:
            sent = list(await asyncio.gather(*(kept(*o) for o in orders)))
            if (rest := audio.result()) is not None:
                await rest   # the other copy of the audio
            await again
            return sent
        finally:
            audio.cancel()
            again.cancel()
    finally:
        await link.close()


async def _upload(link, cfg, sha: str, path: Path) -> asyncio.Future | None:
    """The audio onto the server if it lacks it (the layout made first when nothing was published yet):
    into the audio store and, at the same time, this account's stream of command audio, which the
    stations read when the store lacks it; done when either has it (each stream has its own leader: one
    being elected after a server was lost does not hold the warning up). What is still being written
    is returned, for the caller to wait for before it lets the link go."""
    from nats.js.errors import NotFoundError   # after fleet.client, which loads nats without aiohttp
    try:
        if await link.has_object(sha):
            return None
    except (FleetError, NotFoundError):
        pass
    tasks = [asyncio.ensure_future(link.put_object(sha, path)), asyncio.ensure_future(link.send_audio_below(None, sha, path))]
    try:
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if any(t.exception() is None and t.result() is not False for t in done):
                return asyncio.gather(*tasks, return_exceptions=True)
            if any(isinstance(t.exception(), NotFoundError) for t in done):   # no store: nothing was published
                raise next(t.exception() for t in done if isinstance(t.exception(), NotFoundError))
        raise next(t.exception() for t in tasks if t.exception() is not None)
    except (FleetError, NotFoundError):
        for t in tasks:
            t.cancel()
        await link.ensure_layout(cfg.stations())
        if not await link.has_object(sha):
            await link.put_object(sha, path)
        return None


AGAIN = (1.0, 1.0, 2.0)   # seconds between the sendings of a command on core NATS after the first
TREE = "below.json"   # in state/fleet/: the stations known below each station of this hub, kept by its daemon
READ_WITHIN = 3.0     # seconds a command waits for the stations' heartbeats before it goes with what is kept


def save_tree(cfg, below: dict[str, dict]) -> None:
    """What this hub's daemon last read of the stations below its own (each one's stations and zones)."""
    from broadcaster.fleet.credentials import fleet_dir
    from broadcaster.fsutil import atomic_write_bytes
    tree = {s: {"stations": v["stations"]} for s, v in sorted(below.items()) if isinstance(v.get("stations"), dict)}
    f = fleet_dir(cfg) / TREE
    data = json.dumps(tree, ensure_ascii=False, sort_keys=True).encode()
    try:
        if not f.exists() or f.read_bytes() != data:
            atomic_write_bytes(f, data)
    except OSError as e:
        log.warning(_("the stations known below could not be kept in {file}: {reason}", file=f, reason=e))


def load_tree(cfg) -> dict[str, dict]:
    from broadcaster.fleet.credentials import fleet_dir
    try:
        tree = json.loads((fleet_dir(cfg) / TREE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return tree if isinstance(tree, dict) else {}


async def known_below(cfg, link, stations: list[str], kept: dict | None = None) -> dict[str, dict]:
    """The stations' latest heartbeats as the server has them, within READ_WITHIN seconds; for a station
    not read (the server slow, or no heartbeat for a day: its PC off), what this hub's daemon last kept.
    A failed or empty read never narrows where a warning goes."""
    kept = load_tree(cfg) if kept is None else kept
    try:
        fresh = await link.states(stations, within=READ_WITHIN, quick=True)
    except FleetError:
        return {s: kept[s] for s in stations if s in kept}
    return {s: (fresh[s] if s in fresh and isinstance(fresh[s].get("stations"), dict) else kept.get(s, fresh.get(s)))
            for s in stations if s in fresh or s in kept}


def make_stop(station: str, *, commands: list[str], zones: list[str], now: datetime, signing_key: str,
              by: str = "hub") -> tuple[dict, bytes]:
    """A signed order to stop the given commands: what waits is taken back, what plays fades out."""
    doc = {"kind": KIND, "action": "stop", "id": uuid.uuid4().hex, "station": station, "commands": commands,
           "zones": zones, "issued": now.isoformat(timespec="milliseconds"), "by": by}
    doc = sign(doc, signing_key)
    return doc, json.dumps(doc, ensure_ascii=False).encode()


async def send_stop(cfg, commands: dict[str, list[str]], *, now: datetime) -> None:
    """Per station, a signed stop of its commands (passed down by the hubs between, like the commands),
    at once on core NATS, then kept in the stream."""
    from broadcaster.fleet.client import Link
    from broadcaster.fleet.credentials import hub_credentials
    creds = hub_credentials(cfg)
    link = Link(creds)
    await link.connect(name="broadcaster stop", forever=True)
    try:
        below = await known_below(cfg, link, list(commands))
        stops = []
        for s, ids in commands.items():
            doc, data = make_stop(s, commands=ids, zones=list(cfg.zones_of(s)), now=now,
                                  signing_key=creds.signing_key, by=cfg.fleet.name)
            subs = direct_targets((below.get(s) or {}).get("stations"), [])
            await link.send_now([names.now_subject(s), *(names.down_now_subject(s, sub) for sub in subs)], data)
            stops.append((s, doc, data, subs))
        for s, doc, data, subs in stops:
            await link.send_command(s, data, doc["id"])
            for sub in subs:
                try:
                    await link.send_command_below(s, sub, data, doc["id"])
                except FleetError:
                    break
    finally:
        await link.close()


def direct_targets(below: dict | None, zones: list[str]) -> list[str]:
    """The stations in a heartbeat's ``stations`` that serve one of ``zones`` (all of them if no zones)."""
    if not isinstance(below, dict):
        return []
    return [sub for sub, st in below.items()
            if isinstance(st, dict) and isinstance(st.get("zones"), list)
            and (not zones or set(st["zones"]) & set(zones))]


class EmergencyBelow:
    """What a hub's emergency sends to the stations below (its daemon's daemon.emergencies part calls it,
    from the daemon's timer thread): a round's signed commands, a stop, and which commands were taken."""

    def __init__(self, daemon):
        self.d = daemon

    def round(self, e, zones: list[str], at: datetime) -> list[tuple[str, list[str], str, int]]:
        """(station, its zones, command id, sequence) for each station that plays some of ``zones``."""
        import asyncio
        cfg = self.d.cfg
        stations = list(dict.fromkeys(cfg.zones[z].station for z in zones))
        deadline = max(datetime.fromtimestamp(e.deadline, at.tzinfo), at + timedelta(minutes=1))
        sent = asyncio.run(send_play(cfg, e.target, stations=stations, zone=None, priority=e.priority, now=at,
                                     deadline=deadline, zones=zones))
        return [(one.station, [z for z in zones if cfg.zones[z].station == one.station], one.id, one.sequence)
                for one in sent]

    def stop(self, commands: list[tuple[str, str]], at: datetime) -> None:
        import asyncio
        by_station: dict[str, list[str]] = {}
        for station, command in commands:
            by_station.setdefault(station, []).append(command)
        asyncio.run(send_stop(self.d.cfg, by_station, now=at))

    def taken(self, stations: list[str]) -> dict[str, int]:
        """Per station, the last command sequence its consumer acknowledged."""
        import asyncio
        from broadcaster.fleet.client import Link
        from broadcaster.fleet.credentials import hub_credentials

        async def read():
            link = Link(hub_credentials(self.d.cfg))
            await link.connect(name="broadcaster emergency")
            try:
                return {s: await link.commands_taken(s) for s in stations}
            finally:
                await link.close()
        return asyncio.run(read())
