"""`broadcaster publish`: each station's programme, signed, with its audio uploaded first and the
manifest written last, so a station never sees a programme whose files are missing. Also the same
signed bundle in a folder, for a USB stick (`publish --to-dir`, `fleet import`)."""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from broadcaster.config import Config, display_path
from broadcaster.errors import ConfigError, FleetError, RefusedError
from broadcaster.fleet.manifest import audio_name, build_manifest, changes, read_manifest, same_programme
from broadcaster.fleet.names import AUDIO_IN, UP_STREAMS
from broadcaster.fleet.signing import sign
from broadcaster.fsutil import atomic_write_bytes, sha256_unchanged
from broadcaster.i18n import _
from broadcaster.render.sidecar import read_sidecar


@dataclass
class StationPlan:
    station: str
    manifest: dict
    raw: bytes
    changes: list[str] = field(default_factory=list)
    unchanged: bool = False
    was: int | None = None      # the version the server had before (what stays published when unchanged)

    @property
    def published(self) -> int | None:
        """The version the station finds on the server once this plan is published."""
        return self.was if self.unchanged else self.manifest.get("version")


def audio_info(cfg: Config, bulletin: str) -> tuple[dict, Path]:
    """What a station needs to know of a bulletin's rendered audio, and the file."""
    b = cfg.bulletins[bulletin]
    path = b.output_path(cfg.paths)
    if cfg.approval_required:   # only approved versions go out
        from broadcaster.records.accounts import Accounts
        from broadcaster.records.approval import audio_to_air
        accounts = Accounts(cfg.paths.state)
        try:
            path = audio_to_air(cfg, accounts, b)
        finally:
            accounts.close()
    if not path.is_file():
        raise ConfigError(_("no rendered audio for {bulletin}", bulletin=bulletin), hint=_("run broadcaster build"))
    side = read_sidecar(b.sidecar_path(cfg.paths)) or {}
    info = {"sha256": sha256_unchanged(path), "size": path.stat().st_size,
            "format": path.suffix.lstrip(".").lower(), "duration": side.get("duration_s")}
    return info, path


def plan(cfg: Config, signing_key: str, now: datetime) -> tuple[list[StationPlan], dict[str, Path]]:
    """Every station's signed programme, and the audio files they need by SHA-256."""
    needed = {b for s in cfg.slots if any(cfg.zones[z].station for z in s.zones) for b in s.sequence}
    infos, files = {}, {}
    for b in sorted(needed):
        infos[b], path = audio_info(cfg, b)
        files[infos[b]["sha256"]] = path
    version = int(now.timestamp() * 1000)
    plans = []
    for station in cfg.stations():
        doc = sign(build_manifest(cfg, station, infos, version, now.isoformat(timespec="seconds")), signing_key)
        plans.append(StationPlan(station, doc, json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()))
    return plans, files


def compare(plans: list[StationPlan], current: dict[str, bytes | None]) -> None:
    """Fill in what each plan changes against what the server (or the folder) has now."""
    for p in plans:
        try:
            old = json.loads(current[p.station]) if current.get(p.station) else None
        except ValueError:
            old = None
        p.unchanged = same_programme(old, p.manifest)
        p.was = old.get("version") if isinstance(old, dict) else None
        p.changes = [] if p.unchanged else changes(old, p.manifest)


async def publish(link, cfg: Config, plans: list[StationPlan], files: dict[str, Path], *,
                  dry_run: bool = False) -> int:
    """Upload missing audio, then write each changed station's programme. Returns objects uploaded."""
    if not dry_run:
        await link.ensure_layout(cfg.stations())
    async def current_of(station: str) -> bytes | None:
        try:
            return await link.manifest_of(station)
        except FleetError:
            if not dry_run:
                raise
            return None   # nothing published yet: the server has no programme bucket
    found = await bounded([current_of(p.station) for p in plans])
    compare(plans, {p.station: f for p, f in zip(plans, found)})
    if dry_run:
        return 0
    uploaded = 0
    for sha, path in files.items():
        if not await link.has_object(sha):
            await link.put_object(sha, path)
            uploaded += 1
    # last: a programme is only ever written when all its audio is there
    await bounded([link.put_manifest(p.station, p.raw) for p in plans if not p.unchanged])
    await spread_leaders(link)   # a warning's audio after this never waits on one server's loss
    return uploaded


async def spread_leaders(link) -> str | None:
    """Where one server of a cluster leads both audio streams (the store and the command-audio inbox),
    the inbox's leader steps down, so that losing any one server leaves one of the two writable and a
    fresh warning's audio does not wait for an election. The server that led both, or None."""
    try:
        a, b = [(await link.js.stream_info(x)).cluster for x in UP_STREAMS]
        if a is None or b is None or not a.leader or a.leader != b.leader or not b.replicas:
            return None
        await link.nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{AUDIO_IN}", b"", timeout=5)
    except Exception:   # a single server, a stream not made yet, an election going on: looked at again later
        return None
    return a.leader


async def bounded(coros: list, limit: int = 64) -> list:
    """Run requests to the server concurrently, at most ``limit`` at a time (a hub has hundreds)."""
    gate = asyncio.Semaphore(limit)

    async def one(c):
        async with gate:
            return await c
    return await asyncio.gather(*(one(c) for c in coros))


def write_bundle(folder: Path, plans: list[StationPlan], files: dict[str, Path]) -> None:
    """The signed programmes and their audio in a folder: `fleet import` on a station reads it."""
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    for p in plans:
        for info in p.manifest["bulletins"].values():
            target = folder / "audio" / audio_name(info)
            if not (target.is_file() and target.stat().st_size == info["size"]):
                tmp = target.with_name(f".{target.name}.part")
                shutil.copyfile(files[info["sha256"]], tmp)
                tmp.replace(target)
    for p in plans:
        atomic_write_bytes(folder / f"{p.station}.programme.json", p.raw)


def read_bundle(folder: Path, station: str, public: str, installed: int | None) -> tuple[dict, bytes]:
    path = folder / f"{station}.programme.json"
    if not path.is_file():
        raise ConfigError(_("{folder} has no programme for station {station}", folder=display_path(folder),
                            station=station),
                          hint=_("the hub makes it with: broadcaster publish --to-dir FOLDER"))
    raw = path.read_bytes()
    return read_manifest(raw, public, station, installed=installed), raw


def bundle_fetch(folder: Path):
    """A fetch function for ``install`` reading the bundle's audio folder."""
    def fetch(sha: str, into: Path) -> None:
        found = [p for p in (folder / "audio").glob(f"{sha}.*")]
        if not found:
            raise RefusedError(_("the audio {sha} named by the programme is not in {folder}", sha=sha[:12],
                                 folder=display_path(folder)))
        shutil.copyfile(found[0], into)
    return fetch
