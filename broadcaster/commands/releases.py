"""`fleet release`: a new version of broadcaster down the tree (``fleet.release``), and where it stands."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import click

from broadcaster.commands.common import local_now
from broadcaster.config.slots import parse_duration
from broadcaster.errors import ConfigError
from broadcaster.i18n import _


def _seconds(value: str, option: str, bounds: tuple[int, int]) -> int:
    s = parse_duration(value)
    if s is None or not bounds[0] <= s <= bounds[1]:
        raise ConfigError(_("{option} must be a time from {low} s to {high} s, like 90s, 15m or 6h, not {value}",
                            option=option, low=bounds[0], high=bounds[1], value=value))
    return int(s)


def _share(value: str) -> float:
    v = value.strip().rstrip("%")
    if not v.isdigit() or not 1 <= int(v) <= 100:
        raise ConfigError(_("--stop-at must be a share from 1% to 100%, not {value}", value=value))
    return int(v) / 100


async def _with_link(cfg, work):
    from broadcaster.fleet.client import Link
    from broadcaster.fleet.credentials import hub_credentials
    link = Link(hub_credentials(cfg))
    await link.connect(name="broadcaster fleet release", forever=True)
    try:
        await link.ensure_layout(cfg.stations())
        heard = await link.states(cfg.stations())
        return await work(link, dict(heard))
    finally:
        await link.close()


def release_command(cfg, what: str, *, to: str, trial: str, quiet: str, stop_at: str, promote_after: str | None) -> None:
    from broadcaster.fleet import release
    from broadcaster.fleet.credentials import hub_credentials
    if what in ("promote", "stop", "status"):
        r = release.read_rollout(cfg)
        if r is None:
            raise ConfigError(_("no release has been sent from this hub"), hint=_("broadcaster fleet release FILE"))
        if what == "promote":
            if r.get("stopped"):
                raise ConfigError(_("the rollout of version {version} was stopped: {reason}",
                                    version=r["release"]["version"], reason=r["stopped"]),
                                  hint=_("mend it and send a newer release"))
            if r["stage"] + 1 >= len(r["stages"]):
                click.echo(_("Version {version} has been sent to every station already.", version=r["release"]["version"]))
            else:
                r = release.promote(cfg, time.time())
        elif what == "stop" and not r.get("stopped"):
            r = release.change(cfg, lambda x: x.update(stopped=_("stopped at the hub by hand")))

        async def work(link, states):
            if what != "status":
                await release.apply(link, cfg, r, states)
            return states
        show(cfg, r, asyncio.run(_with_link(cfg, work)))
        return
    path = Path(what).resolve()
    if not path.is_file():
        raise ConfigError(_("no file {file}", file=what), hint=_("give a wheel or an sdist of broadcaster, or promote, "
                                                                 "stop or status"))
    first = release.first_stage(cfg, to)
    release.file_version(path.name)
    import shutil
    from broadcaster.fleet.credentials import fleet_dir
    from broadcaster.fsutil import atomic_path, private_dir
    kept = private_dir(fleet_dir(cfg) / "releases") / path.name   # the hub's own copy, until it is in the store
    if kept != path:
        with atomic_path(kept, suffix=".part") as tmp:
            shutil.copyfile(path, tmp)
        path = kept
    creds = hub_credentials(cfg)
    doc = release.make_release(path, signing_key=creds.signing_key, by=cfg.fleet.name, now=local_now(cfg),
                               trial=_seconds(trial, "--trial", release.TRIAL), quiet=_seconds(quiet, "--quiet", release.QUIET))
    after = _seconds(promote_after, "--promote-after", (0, 30 * 86400)) if promote_after else None
    r = release.new_rollout(cfg, doc, path, first, stop_share=_share(stop_at), promote_after=after)

    async def send(link, states):
        # a release sent before to the others is taken back: one rollout at a time
        await release.take_back(link, [s for s in cfg.stations() if s not in first])
        await release.apply(link, cfg, r, states)
        return states
    release.begin(cfg, r)
    states = asyncio.run(_with_link(cfg, send))
    click.echo(_("Version {version} ({file}, {size} MB, SHA-256 {sha}) signed and sent to {count} of {total} "
                 "station(s): {stations}", version=doc["version"], file=path.name, size=f"{doc['size'] / 2**20:.1f}",
                 sha=doc["sha256"][:12], count=len(first), total=len(cfg.stations()), stations=", ".join(first)))
    show(cfg, r, states)


def show(cfg, r: dict, states: dict) -> None:
    """Where a rollout stands, station by station, from their heartbeats."""
    from broadcaster.fleet import release
    version = r["release"]["version"]
    t = release.tally(r, states)
    click.echo(_("Release {version}: stage {stage} of {stages}; {healthy} healthy, {trying} on trial, {waiting} "
                 "installing or waiting, {failed} failed", version=version, stage=r["stage"] + 1,
                 stages=len(r["stages"]), healthy=len(t["healthy"]), trying=len(t["trying"]),
                 waiting=len(t["waiting"]), failed=len(t["failed"])))
    for s in t["failed"]:
        up = (states.get(s) or {}).get("update") or {}
        click.secho("  ! " + _("{station}: {state}: {reason}", station=s, state=up.get("state"), reason=up.get("reason")),
                    fg="red")
    if r.get("stopped"):
        click.secho(_("Stopped: {reason}", reason=r["stopped"]), fg="red")
    elif r["stage"] + 1 < len(r["stages"]):
        click.echo(_("Next: broadcaster fleet release promote (to {count} more station(s))",
                     count=len(r["stages"][r["stage"] + 1])))

