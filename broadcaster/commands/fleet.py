"""The district network: `fleet init`, `fleet status`, `fleet import`, and `publish`."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import click

from broadcaster.commands.common import Context, local_now
from broadcaster.config import display_path
from broadcaster.errors import ConfigError
from broadcaster.i18n import N_, _, when


def run_async(coro):
    return asyncio.run(coro)


def district_only(cfg, command: str) -> None:
    if cfg.fleet is None or not cfg.fleet.is_district:
        raise ConfigError(_("`{command}` is for the district's project (its [fleet] table has server and no station)",
                            command=command),
                          hint=_('add [fleet] server = "nats://HOST:4222" and station = "ID" to the zones'))


@click.group()
def fleet() -> None:
    """The district network: set it up, see the stations, import a programme from a USB stick."""


@fleet.command(name="init")
@click.option("--listen", metavar="HOST:PORT", help=N_("where nats-server listens (default: 0.0.0.0 and the port of [fleet] server)"))
@click.option("--store", metavar="DIR", help=N_("where nats-server keeps its data (default: the state folder)"))
@click.pass_obj
def init(obj: Context, listen: str | None, store: str | None) -> None:
    """At the district: the message server's config, one account per station, the signing key."""
    from broadcaster.fleet.accounts import init_fleet
    cfg = obj.config()
    r = init_fleet(cfg, listen=listen, store=Path(store).resolve() if store else None)
    for s in r.added:
        click.echo(_("  + station {station}: give {file} to its technician", station=s,
                     file=display_path(r.station_files[s])))
    for s in r.kept:
        click.echo(_("  = station {station}: kept (its password did not change)", station=s))
    click.echo(_("Message server config: {file}", file=display_path(r.conf)))
    click.echo(_("Start it with:  nats-server -c {file}   (or contrib/nats-server.service for systemd)",
                 file=r.conf))
    click.echo(_("Then: broadcaster publish"))


@fleet.command(name="status")
@click.option("--json", "as_json", is_flag=True, help=N_("a JSON list of objects"))
@click.pass_obj
def status(obj: Context, as_json: bool) -> None:
    """At the district: each station online or not, its programme, what it plays, its backlog."""
    from broadcaster.fleet.status import fleet_view
    from broadcaster.station.playlog import Journal
    cfg = obj.config()
    district_only(cfg, "fleet status")
    journal = Journal(cfg.paths.state)
    try:
        rows = run_async(fleet_view(cfg, journal, name="broadcaster fleet status", collect_first=True))
    finally:
        journal.close()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    tz = local_now(cfg).tzinfo
    for r in rows:
        seen = when(datetime.fromtimestamp(r["last_seen"], tz), seconds=True) if r["last_seen"] else "-"
        state = click.style(_("online"), fg="green") if r["online"] else click.style(_("offline"), fg="red")
        behind = "" if r["programme"] == r["published"] else click.style(_(" (not the latest)"), fg="yellow")
        playing = ", ".join(f"{p['zone']}: {p['bulletin']}" for p in r["playing"]) or "-"
        click.echo(f"{r['station']:<16} {state:<18} " + _("last seen {time}", time=seen))
        click.echo("    " + _("programme {applied} / published {published}", applied=r["programme"] or "-",
                                published=r["published"] or "-") + behind)
        click.echo("    " + _("playing: {what}; backlog: {rows} row(s); rows received: {received}", what=playing,
                                rows=r["backlog"] if r["backlog"] is not None else "?", received=r["received"]))
        for a in r["alerts"]:
            click.secho("    ! " + a, fg="red")


@fleet.command(name="import")
@click.argument("folder", type=click.Path(file_okay=False))
@click.pass_obj
def import_(obj: Context, folder: str) -> None:
    """At a station: install the programme the district wrote to a folder (a USB stick)."""
    from broadcaster.fleet.credentials import load_credentials
    from broadcaster.fleet.install import install, installed_version
    from broadcaster.fleet.publish import bundle_fetch, read_bundle
    cfg = obj.config()
    if cfg.fleet is None or cfg.fleet.is_district:
        raise ConfigError(_("`fleet import` is for a station: its [fleet] table has station and credentials"))
    creds = load_credentials(cfg)
    src = Path(folder).resolve()
    doc, raw = read_bundle(src, cfg.fleet.station, creds.district_key, installed_version(cfg))
    install(cfg, doc, raw, bundle_fetch(src))
    click.echo(_("District programme version {version} installed ({bulletins} bulletin(s), {slots} slot(s)); "
                 "a running daemon takes it within seconds.", version=doc["version"],
                 bulletins=len(doc["bulletins"]), slots=len(doc["slots"])))


@click.command()
@click.option("--dry-run", is_flag=True, help=N_("say what would be sent, and send nothing (stale audio is rendered here all the same)"))
@click.option("--to-dir", metavar="DIR", help=N_("write the signed programmes to a folder (a USB stick) instead"))
@click.pass_context
def publish(ctx: click.Context, dry_run: bool, to_dir: str | None) -> None:
    """At the district: render what is stale, send each station its signed programme and audio."""
    from broadcaster.commands.render import build
    from broadcaster.fleet.client import Link
    from broadcaster.fleet.credentials import load_credentials
    from broadcaster.fleet.publish import compare, plan, publish as send, write_bundle
    obj: Context = ctx.obj
    cfg = obj.config()
    district_only(cfg, "publish")
    creds = load_credentials(cfg)
    needed = sorted({b for s in cfg.slots if any(cfg.zones[z].station for z in s.zones)
                     for b in s.sequence if cfg.bulletins[b].rendered})
    if needed:
        ctx.invoke(build, bulletins=tuple(needed), engine=None, force=False)
    plans, files = plan(cfg, creds.signing_key, local_now(cfg))
    if to_dir:
        out = Path(to_dir).expanduser().resolve()   # a USB stick is outside the project by nature
        compare(plans, {})
        if not dry_run:
            write_bundle(out, plans, files)
        click.echo(_("Programmes for {count} station(s) written to {folder}; on each station: "
                     "broadcaster fleet import FOLDER", count=len(plans), folder=display_path(out)))
        return

    async def go():
        link = Link(creds)
        await link.connect(name="broadcaster publish")
        try:
            return await send(link, cfg, plans, files, dry_run=dry_run)
        finally:
            await link.close()
    uploaded = run_async(go())
    for p in plans:
        if p.unchanged:
            click.echo(_("  = {station}: unchanged", station=p.station))
        else:
            click.echo(_("  {mark} {station}: {changes}", mark="~" if dry_run else "✓", station=p.station,
                         changes="; ".join(p.changes)))
    if dry_run:
        click.echo(_("Dry run: nothing was sent."))
    else:
        click.echo(_("{count} audio file(s) uploaded; programmes written for {stations} station(s).", count=uploaded,
                     stations=sum(not p.unchanged for p in plans)))
