"""At the technician's desk: `report` for the level above, `preview` on one's own speakers."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

import click

from broadcaster.commands.common import (Context, fmt_duration, local_now, parse_day, play_to_end, progress,
                                         project_path, require_known, warn)
from broadcaster.config import display_path
from broadcaster.errors import ConfigError
from broadcaster.i18n import N_, _, day

@click.command()
@click.option("--from", "first", metavar="DATE",
              help=N_("the first day (2020-08-01 or 01/8/2020; default: the first day in the play log)"))
@click.option("--to", "last", metavar="DATE", help=N_("the last day (default: today)"))
@click.option("--zone", "zones", multiple=True, help=N_("only this zone (repeatable)"))
@click.option("--bulletin", "bulletins", multiple=True, help=N_("only this bulletin (repeatable)"))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help=N_("the report file: .csv (for Excel), .html (to print or attach) or .json"))
@click.option("--station", help=N_("at a hub: only this station's zones (default: the hub's and every station's)"))
@click.option("--by-station", is_flag=True,
              help=N_("at a hub: per station beneath it, every level (per commune and per cluster): bulletins, "
                      "airings due and done, on time, emergencies, seconds aired against required, clusters online"))
@click.pass_obj
def report(obj: Context, first: str | None, last: str | None, zones: tuple[str, ...], bulletins: tuple[str, ...],
           output: str, station: str | None, by_station: bool) -> None:
    """What was aired against what the schedule asked for, per bulletin, zone and day."""
    from broadcaster.fsutil import atomic_write_bytes
    from broadcaster.records.report import build_report, combine
    from broadcaster.records.report_formats import FORMATS, render
    from broadcaster.render.sidecar import durations
    cfg = obj.config()
    fmt = Path(output).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise click.BadParameter(_("the report must end in .csv, .html or .json"), param_hint="-o/--output")
    out = project_path(obj, output, "-o/--output", cfg.root)
    require_known("zone", zones, cfg)
    require_known("bulletin", bulletins, cfg)
    now = local_now(cfg)
    from broadcaster.commands.station import read_rows
    rows = read_rows(cfg, station)
    if station:
        zones = zones or tuple(cfg.zones_of(station))
    tz = now.tzinfo
    last_day = parse_day(last, "--to") if last else now.date()
    if first:
        first_day = parse_day(first, "--from")
    elif rows:
        first_day = min(datetime.fromisoformat(r.scheduled).astimezone(tz).date() for r in rows)
    else:
        first_day = last_day - timedelta(days=6)
    if first_day > last_day:
        raise click.BadParameter(_("the first day ({first}) is after the last day ({last})", first=day(first_day),
                                   last=day(last_day)), param_hint="--from/--to")
    if by_station:
        return _by_station(cfg, rows, first_day, last_day, out, fmt)
    chosen = list(zones) or list(cfg.zones) + sorted({r.zone for r in rows} - set(cfg.zones))
    lengths = durations(cfg)
    parts = [build_report(cfg, rows, first_day, last_day, now, zones={z}, bulletins=set(bulletins) or None,
                          lengths=lengths)
             for z in progress(chosen, _("Counting"), lambda z: z or "")]
    result = combine(parts, first_day, last_day, now, cfg.timezone)
    atomic_write_bytes(out, render(result, cfg, fmt))
    totals = result.totals()
    click.echo(_("wrote {path}: {first} to {last}, {scheduled} airings scheduled, {aired} aired, {short} day(s) short.",
                 path=display_path(out), first=day(first_day), last=day(last_day),
                 scheduled=sum(t.scheduled for t in totals), aired=sum(t.aired for t in totals),
                 short=len(result.short_days())))


def _by_station(cfg, rows, first_day, last_day, out: Path, fmt: str) -> None:
    """The statistics for the level above: every station beneath this hub, per commune and per cluster."""
    import asyncio
    from zoneinfo import ZoneInfo
    from broadcaster.errors import BroadcasterError
    from broadcaster.fsutil import atomic_write_bytes
    from broadcaster.records.statistics import render_statistics, subtree
    if not cfg.is_hub:
        raise ConfigError(_("--by-station is for a hub's project, where the stations' play logs are collected"))
    online = None
    try:   # clusters online, from their heartbeats, when the message server answers
        from broadcaster.fleet.status import fleet_view
        from broadcaster.records.playlog import Journal
        journal = Journal(cfg.paths.state)
        try:
            online = {r["path"]: r["online"] for r in asyncio.run(fleet_view(cfg, journal, name="broadcaster report"))}
        finally:
            journal.close()
    except BroadcasterError as e:
        warn(_("which stations are online is not known ({reason}): that column is left empty", reason=e))
    me = cfg.fleet.name
    lines = subtree(rows, me, first_day, last_day, ZoneInfo(cfg.timezone), online)
    title = _("{hub}: airings of every station beneath it, {first} to {last}", hub=me, first=day(first_day),
              last=day(last_day))
    atomic_write_bytes(out, render_statistics(lines, fmt, title=title))
    top = [x for x in lines if x["level"] == 1]
    click.echo(_("wrote {path}: {stations} station(s) beneath {hub}, {due} airings due, {done} done.",
                 path=display_path(out), stations=len(lines), hub=me, due=sum(x["due"] for x in top),
                 done=sum(x["done"] for x in top)))


@click.command()
@click.argument("bulletin")
@click.option("--device", help=N_("the sound output to use (default: this PC's default output)"))
@click.option("--text", "show_text", is_flag=True, help=N_("also print what will be read (the normalised text)"))
@click.pass_obj
def preview(obj: Context, bulletin: str, device: str | None, show_text: bool) -> None:
    """Play a rendered bulletin on this PC's own speakers (not a zone); Ctrl+C stops it."""
    from broadcaster.fsutil import sha256_file
    from broadcaster.audio.playback import Playback
    from broadcaster.audio.player import find_output
    from broadcaster.render.sidecar import read_sidecar
    cfg = obj.config()
    require_known("bulletin", (bulletin,), cfg)
    b = cfg.bulletins[bulletin]
    path = b.output_path(cfg.paths)
    if not path.is_file():
        raise ConfigError(_('bulletin "{bulletin}" has not been rendered yet (run broadcaster build)',
                            bulletin=bulletin))
    side = read_sidecar(b.sidecar_path(cfg.paths)) or {}
    if b.rendered and side.get("script_sha256") not in (None, sha256_file(b.script)):
        warn(_('bulletin "{bulletin}": the rendered audio is older than its script (run broadcaster build)',
               bulletin=bulletin))
    if show_text and b.rendered:
        from broadcaster.text.reading import spoken_paragraphs
        from broadcaster.text.scripts import read_script
        script = read_script(b.script, display=display_path(b.script))
        for written, spoken in zip(script.paragraphs, spoken_paragraphs(script, b.tts.lexicon)):
            for sentence, words in zip(written, spoken):
                click.echo(f"  {sentence.text}\n  → {words}")
            click.echo()
    output = find_output(device or "default")
    pb = Playback(output.index, path)
    click.echo(_("Playing {file} ({duration}) on {device}; Ctrl+C stops it.", file=display_path(path),
                 duration=fmt_duration(pb.duration), device=output.name))
    status = play_to_end(pb)
    if status == "interrupted":
        click.echo(_("Stopped at {position} of {duration}.", position=fmt_duration(pb.position()),
                     duration=fmt_duration(pb.duration)))
    elif status == "failed":
        click.secho(f"{_('error')}: {pb.feeder.error or pb.error}", fg="red", err=True)
        sys.exit(1)
    else:
        click.echo(_("Played to the end ({duration}).", duration=fmt_duration(pb.duration)))
