"""The network of hubs and stations: `fleet init`, `fleet status`, `fleet import`, and `publish`."""

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


def hub_only(cfg, command: str) -> None:
    if not cfg.is_hub:
        raise ConfigError(_("`{command}` is for a hub's project: one with [fleet] and zones that name the station "
                            "that plays them", command=command),
                          hint=_('add [fleet] server = "nats://HOST:4222" and station = "ID" to the zones'))


@click.group()
def fleet() -> None:
    """The network of hubs and stations: set it up, see the stations, import a programme from a USB stick."""


@fleet.command(name="init")
@click.option("--listen", metavar="HOST:PORT", help=N_("where nats-server listens (default: the bind address and the port of [fleet] server)"))
@click.option("--bind", default="0.0.0.0", show_default=True, metavar="HOST", help=N_("the address the server (or each node of a cluster) listens on"))
@click.option("--route-port", "route_ports", multiple=True, type=click.IntRange(1, 65535), metavar="PORT",
              help=N_("with several servers in [fleet] server: each node's cluster port, in the same order (default: its client port + 2000)"))
@click.option("--store", metavar="DIR", help=N_("where nats-server keeps its data (default: the state folder)"))
@click.pass_obj
def init(obj: Context, listen: str | None, bind: str, route_ports: tuple[int, ...], store: str | None) -> None:
    """At a hub: its account on the message server, one user per station below it, its signing key."""
    from broadcaster.fleet.accounts import init_fleet
    cfg = obj.config()
    r = init_fleet(cfg, listen=listen, bind=bind, route_ports=list(route_ports) or None,
                   store=Path(store).resolve() if store else None)
    for s in r.added:
        click.echo(_("  + station {station}: give {file} to its technician", station=s,
                     file=display_path(r.station_files[s])))
    for s in r.kept:
        click.echo(_("  = station {station}: kept (its password did not change)", station=s))
    if r.account_file is not None:
        click.echo(_("This hub's account lives on the servers of the hub above. Give {file} to that hub's "
                     "technician: it goes into its state/fleet/accounts/ folder, then broadcaster fleet init "
                     "there and a reload of its servers (nats-server --signal reload).",
                     file=display_path(r.account_file)))
        click.echo(_("Then: broadcaster publish"))
        return
    for conf in r.confs:
        click.echo(_("Message server config: {file}", file=display_path(conf)))
    if len(r.confs) > 1:
        click.echo(_("A cluster of {count} servers: start each with its own file, one per machine "
                     "(nats-server -c FILE); everything is kept on all of them.", count=len(r.confs)))
    else:
        click.echo(_("Start it with:  nats-server -c {file}   (or contrib/nats-server.service for systemd)",
                     file=r.conf))
    if len(r.accounts) > 1:
        click.echo(_("Accounts: {names}", names=", ".join(r.accounts)))
    click.echo(_("Then: broadcaster publish"))


@fleet.command(name="status")
@click.option("--json", "as_json", is_flag=True, help=N_("a JSON list of objects"))
@click.pass_obj
def status(obj: Context, as_json: bool) -> None:
    """At a hub: every station beneath it online or not, its programme, what it plays, its backlog."""
    from broadcaster.fleet.status import fleet_view
    from broadcaster.records.playlog import Journal
    cfg = obj.config()
    hub_only(cfg, "fleet status")
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
        # only when it is known to differ: a version nobody told this hub of is no reason to warn
        behind = ("" if r["published"] is None or r["programme"] == r["published"]
                  else click.style(_(" (not the latest)"), fg="yellow"))
        playing = ", ".join(f"{p['zone']}: {p['bulletin']}" for p in r["playing"]) or "-"
        indent = "  " * (r["level"] - 1)
        click.echo(f"{indent}{r['station']:<16} {state:<18} " + _("last seen {time}", time=seen))
        click.echo("    " + _("programme {applied} / published {published}", applied=r["programme"] or "-",
                                published=r["published"] or "-") + behind)
        click.echo("    " + _("playing: {what}; backlog: {rows} row(s); rows received: {received}", what=playing,
                                rows=r["backlog"] if r["backlog"] is not None else "?", received=r["received"]))
        up = r["update"]
        click.echo("    " + _("broadcaster {version}", version=r["software"] or "?")
                   + (_(" (update to {version}: {state})", version=up.get("version"), state=up.get("state"))
                      if up.get("state") not in (None, "healthy") else ""))
        if up.get("state") in ("rolled_back", "refused"):
            click.secho("    ! " + str(up.get("reason")), fg="red")
        for a in r["alerts"]:
            click.secho("    ! " + a, fg="red")
    from broadcaster.fleet.release import read_rollout
    from broadcaster.fleet.status import version_counts
    for hub, counts in version_counts(rows).items():
        click.echo(_("Versions below {hub}: {counts}", hub=hub,
                     counts=", ".join(f"{v} ×{n}" for v, n in counts.items())))
    rollout = read_rollout(cfg)
    if rollout is not None and not rollout.get("done"):
        from broadcaster.commands.releases import show
        show(cfg, rollout, {r["path"]: r for r in rows if r["level"] == 1})


@fleet.command(name="import")
@click.argument("folder", type=click.Path(file_okay=False))
@click.pass_obj
def import_(obj: Context, folder: str) -> None:
    """At a station: install the programme its hub wrote to a folder (a USB stick)."""
    from broadcaster.fleet.credentials import up_credentials
    from broadcaster.fleet.install import install, installed_version
    from broadcaster.fleet.publish import bundle_fetch, read_bundle
    cfg = obj.config()
    if cfg.fleet is None or not cfg.fleet.is_station:
        raise ConfigError(_("`fleet import` is for a station: its [fleet] table has station and credentials"))
    creds = up_credentials(cfg)
    src = Path(folder).resolve()
    doc, raw = read_bundle(src, cfg.fleet.station, creds.public, installed_version(cfg))
    install(cfg, doc, raw, bundle_fetch(src))
    click.echo(_("The hub's programme version {version} installed ({bulletins} bulletin(s), {slots} slot(s)); "
                 "a running daemon takes it within seconds.", version=doc["version"],
                 bulletins=len(doc["bulletins"]), slots=len(doc["slots"])))


@click.command()
@click.option("--dry-run", is_flag=True, help=N_("say what would be sent, and send nothing (stale audio is rendered here all the same)"))
@click.option("--to-dir", metavar="DIR", help=N_("write the signed programmes to a folder (a USB stick) instead"))
@click.pass_context
def publish(ctx: click.Context, dry_run: bool, to_dir: str | None) -> None:
    """At a hub: render what is stale, send each station below its signed programme and audio."""
    from broadcaster.commands.render import build
    from broadcaster.fleet.client import Link
    from broadcaster.fleet.credentials import hub_credentials
    from broadcaster.fleet.publish import compare, plan, publish as send, write_bundle
    obj: Context = ctx.obj
    cfg = obj.config()
    hub_only(cfg, "publish")
    creds = hub_credentials(cfg)
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
        await link.connect(name="broadcaster publish", forever=True)
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


@fleet.command(name="release")
@click.argument("what", metavar="FILE|promote|stop|status")
@click.option("--to", "to", default="all", show_default=True, metavar="all|group:NAME|N%",
              help=N_("the stations it goes to first; the others with `fleet release promote`"))
@click.option("--trial", default="15m", show_default=True, metavar="TIME",
              help=N_("how long a station may take to come up healthy on it before it goes back"))
@click.option("--quiet", default="60s", show_default=True, metavar="TIME",
              help=N_("a station restarts only when no airing is due within this time"))
@click.option("--stop-at", default="25%", show_default=True, metavar="N%",
              help=N_("the rollout stops when this share of the stations it went to failed with it"))
@click.option("--promote-after", metavar="TIME", help=N_("go on to all stations once the first ones were all healthy this long"))
@click.pass_obj
def release(obj: Context, what: str, to: str, trial: str, quiet: str, stop_at: str, promote_after: str | None) -> None:
    """At a hub: send a new version of broadcaster (a wheel or an sdist) to the stations below, staged.

    Each station checks the signature and the hash, installs it beside the running version, checks it,
    switches between airings and goes back by itself if it is not healthy in time. `promote` sends it on
    to every station, `stop` takes it back from those that have not started it, `status` says where it is."""
    from broadcaster.commands.releases import release_command
    cfg = obj.config()
    hub_only(cfg, "fleet release")
    release_command(cfg, what, to=to, trial=trial, quiet=quiet, stop_at=stop_at, promote_after=promote_after)
