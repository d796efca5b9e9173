"""The loudspeaker PC: `daemon`, `play`, `log`, `status` and `devices`."""

from __future__ import annotations

import dataclasses
import sys
from datetime import datetime
from pathlib import Path

import click

from broadcaster.commands.common import Context, local_now, parse_from, play_to_end, project_path, require_known, warn
from broadcaster.config import AUDIO_SUFFIXES, Config, find_config
from broadcaster.errors import ConfigError
from broadcaster.i18n import N_, _, when
from broadcaster.records.playlog import REQUEST_WORDS, STATUS_WORDS

@click.command()
@click.option("--zone", "zones", multiple=True, help=N_("serve only this zone (repeatable; default: every zone)"))
@click.option("-v", "--verbose", is_flag=True, help=N_("log more detail"))
@click.pass_obj
def daemon(obj: Context, zones: tuple[str, ...], verbose: bool) -> None:
    """Play the schedule on this PC's zones until stopped (Ctrl+C or SIGTERM).

    When schedule.toml (or a file it names) cannot be used, the last configuration that ran here runs
    instead, with an alert, until it can; only a PC that never ran one refuses to start."""
    from broadcaster.daemon.daemon import Daemon, setup_logging
    try:
        cfg, problem = _config_or_last_good(obj, errors_too=True)
    except ConfigError as e:   # never ran here: nothing to fall back on
        for line in e.problems:
            click.secho(line, fg="red", err=True)
        raise ConfigError(_("the project has errors; the daemon did not start"),
                          hint=_("fix them, then start it again")) from None
    from zoneinfo import ZoneInfo
    setup_logging(cfg.paths.state, verbose, ZoneInfo(cfg.timezone))
    if cfg.fleet is not None and cfg.fleet.is_station:   # the version its hub sent, if it is not this one
        from broadcaster.fleet.update import choose
        choose(cfg, sys.argv[1:])
    d = Daemon(find_config(obj.config_option), zones=list(zones) or None, allow_outside=obj.allow_outside,
               cfg=cfg, problem=problem, parts=daemon_parts(cfg))
    status = d.run_forever()
    if d.restart_with is not None:   # a new version (or back to the one before): in this process's place
        from broadcaster.fleet.update import execute
        execute(d.restart_with, sys.argv[1:])
    if status:
        sys.exit(status)


def daemon_parts(cfg: Config) -> tuple:
    """The station's parts, and with [fleet] its roles: the link to the hub above (a station) and the
    link to the stations below (a hub); a commune holds both."""
    from broadcaster.daemon.daemon import PARTS
    if cfg.fleet is None:
        return PARTS
    parts = PARTS
    if cfg.fleet.is_station:
        from broadcaster.fleet.sync import StationLink
        from broadcaster.fleet.update import Updater
        parts = (*parts, StationLink, Updater)
    if cfg.is_hub:
        from broadcaster.fleet.collect import HubLink
        parts = (*parts, HubLink)
    return parts


@click.command()
@click.argument("target")
@click.option("--zone", help=N_("the zone to play on (with --station: default every zone of the station)"))
@click.option("--group", "groups", multiple=True, metavar="NAME",
              help=N_("play on every zone of this [groups] entry, through the daemon (repeatable)"))
@click.option("--urgent", is_flag=True, help=N_("interrupt what is playing and play now, even in quiet hours"))
@click.option("--priority", "high", is_flag=True, help=N_("go ahead of waiting normal airings"))
@click.option("--station", "stations", multiple=True, help=N_("at a hub: send it to this station below (repeatable)"))
@click.option("--all-stations", is_flag=True, help=N_("at a hub: send it to every station below"))
@click.option("--deadline", metavar="MINUTES", type=click.IntRange(1, 7 * 24 * 60), default=10, show_default=True,
              help=N_("with --station: a station offline longer than this logs it missed instead of playing it"))
@click.pass_obj
def play(obj: Context, target: str, zone: str | None, groups: tuple[str, ...], urgent: bool, high: bool,
         stations: tuple[str, ...], all_stations: bool, deadline: int) -> None:
    """Play a bulletin (by id) or an audio file on a zone, now.

    When a daemon serves the zone, it plays it (through the play log's request queue);
    otherwise it plays here and waits until done. Either way it is logged.
    At a hub, --station (or a --group whose zones stations below play) sends it to them as a signed command.
    In a zone's quiet hours only --urgent plays.
    """
    import asyncio
    from datetime import timedelta
    from broadcaster.dispatch.play import Ask, carry_out, route
    from broadcaster.records.playlog import Journal
    cfg = obj.config()
    priority = "urgent" if urgent else "priority" if high else "normal"
    whole = bool(stations or all_stations)
    if not (zone or groups or whole):
        raise click.UsageError(_("--zone or --group is needed (or --station, at a hub)"))
    ask = Ask(target, zones=() if whole or not zone else (zone,), groups=groups, stations=stations,
              all_stations=all_stations, zone=zone if whole else None, priority=priority)
    journal = Journal(cfg.paths.state)
    try:
        now = local_now(cfg)
        where = route(cfg, ask, served={z for _pid, zs in journal.live_daemons() for z in zs}, at=now,
                      direct=not groups)
        target = _target(obj, cfg, target, below=bool(where.stations), files=not groups)
        where = dataclasses.replace(where, target=target)
        if where.direct:
            return _play_here(cfg, journal, target, where.direct, priority)
        done = asyncio.run(carry_out(cfg, where, journal, now, now + timedelta(minutes=deadline)))
        for one in done.sent:
            click.echo(_("Sent to station {station} (command {id}, {priority}); it plays when the station has it, "
                         "or logs it missed after {minutes} min.", station=one.station, id=one.id[:8],
                         priority=priority, minutes=deadline))
        if done.requests:
            _wait_for_requests(journal, done.requests)
    finally:
        journal.close()


def _target(obj: Context, cfg: Config, target: str, below: bool, files: bool) -> str:
    """``target`` as a route takes it: a bulletin id (its audio brought up to date first when it goes to
    stations below, as publish does) or an audio file inside the project."""
    if target in cfg.bulletins:
        if below and cfg.bulletins[target].rendered:
            from broadcaster.commands.render import build
            click.get_current_context().invoke(build, bulletins=(target,), engine=None, force=False)
        return target
    path = Path(target).resolve()
    if not files or not path.is_file() or path.suffix.lower() not in AUDIO_SUFFIXES:
        raise ConfigError((_('"{target}" is neither a bulletin id nor an audio file', target=target) if files else
                           _('"{target}" is not a bulletin id', target=target)),
                          hint=_("bulletins: {bulletins}", bulletins=", ".join(cfg.bulletins)))
    return str(project_path(obj, target, "TARGET", cfg.root))


def _wait_for_requests(journal, ids: dict[int, str]) -> None:
    """Wait until the daemons have played (or failed) every request, saying how each ended; exit 1 unless all played."""
    import time as _t
    if len(ids) == 1:
        zone = next(iter(ids.values()))
        click.echo(_("Sent to the daemon (pid {pid}) serving zone {zone}; waiting for it to play…",
                     pid=next((pid for pid, zs in journal.live_daemons() if zone in zs), "?"), zone=zone))
    else:
        click.echo(_("Sent to the daemon for {count} zone(s): {zones}; waiting for them to play…", count=len(ids),
                     zones=", ".join(ids.values())))
    states: dict[int, str] = {}
    while len(states) < len(ids):
        for rid, z in ids.items():
            status, reason, _row = journal.request_state(rid)
            if rid not in states and status in ("done", "failed", "interrupted"):
                states[rid] = status
                word = _(REQUEST_WORDS.get(status, status)) + (f": {reason}" if reason else "")
                click.echo(word if len(ids) == 1 else f"  {z}: {word}")
        _t.sleep(0.3)
    if any(s != "done" for s in states.values()):
        sys.exit(1)


def _play_here(cfg: Config, journal, target: str, zone: str, priority: str) -> None:
    from broadcaster.audio.playback import Playback
    from broadcaster.audio.player import find_output
    from broadcaster.fsutil import sha256_file
    now = local_now(cfg)
    bulletin = target if target in cfg.bulletins else None
    path = cfg.bulletins[target].output_path(cfg.paths) if bulletin else Path(target)
    if not path.is_file():
        raise ConfigError(_("no rendered audio for {bulletin}", bulletin=target), hint=_("run broadcaster build"))
    z = cfg.zones[zone]
    pb = Playback(find_output(z.device).index, path, z.volume)
    row = journal.start(scheduled=now, zone=zone, bulletin=bulletin, audio=str(path),
                        audio_sha256=sha256_file(path), priority=priority, slot=None, request=None, started=now)
    click.echo(_("Playing {file} on {zone} (no daemon serves this zone); Ctrl+C stops it.", file=path.name, zone=zone))
    status = play_to_end(pb)
    error = pb.start_error()
    if error is not None:   # when the first sample actually left
        journal.measured_start(row, datetime.fromtimestamp(pb.started_at, now.tzinfo), error * 1000)
    reason = {"interrupted": _("stopped with Ctrl+C"), "failed": pb.feeder.error or pb.error}.get(status)
    journal.finish(row, status, local_now(cfg), reason)
    click.echo(_(STATUS_WORDS[status]) + (f": {reason}" if reason else ""))


@click.command(name="log")
@click.option("--since", metavar="DATE", help=N_("from this date (2020-08-01) or date and time"))
@click.option("--zone", help=N_("only this zone"))
@click.option("--json", "as_json", is_flag=True, help=N_("a JSON list of objects"))
@click.option("--csv", "as_csv", is_flag=True, help=N_("CSV with a header line"))
@click.option("--station", help=N_("at a hub: only this station's airings (its path below, like xa_a/cum_1; default: the hub's and every station's)"))
@click.pass_obj
def show_log(obj: Context, since: str | None, zone: str | None, as_json: bool, as_csv: bool,
             station: str | None) -> None:
    """The play log: every airing, when it started and ended, and how it went."""
    import csv
    import json
    from broadcaster.records.overview import heard_of
    cfg = obj.config()
    t0 = parse_from(since, cfg, "--since").timestamp() if since else None
    rows = read_rows(cfg, station, since=t0, zone=zone)
    records = [{"scheduled": r.scheduled, "started": r.started, "ended": r.ended, "zone": r.zone,
                "bulletin": r.bulletin or (Path(r.audio).name if r.audio else None), "status": r.status,
                "reason": r.reason, "audio_sha256": r.audio_sha256, "station": r.station, "command": r.command,
                "start_error_ms": r.start_error_ms, "relayed_s": r.relayed_s, "fallback_s": r.fallback_s,
                "heard": r.heard, "heard_delay_ms": r.heard_delay_ms, "heard_score": r.heard_score,
                "heard_note": r.heard_note, "dropouts": r.dropouts}
               for r in rows]
    if as_json:
        click.echo(json.dumps(records, ensure_ascii=False, indent=1))
    elif as_csv:
        w = csv.DictWriter(click.get_text_stream("stdout"),
                           fieldnames=["scheduled", "started", "ended", "zone", "bulletin", "status", "reason",
                                       "audio_sha256", "station", "command", "start_error_ms", "relayed_s",
                                       "fallback_s", "heard", "heard_delay_ms", "heard_score", "heard_note",
                                       "dropouts"])
        w.writeheader()
        w.writerows(records)
    elif not records:
        click.echo(_("The play log is empty for that choice.") if since or zone else _("The play log is empty."))
    else:
        for r in records:
            shown = when(datetime.fromisoformat(r["scheduled"]), seconds=True)
            where = f"{r['station']}/" if r["station"] else ""
            relay = (_("[relayed {relayed} s, fallback {fallback} s] ", relayed=f"{r['relayed_s']:.0f}",
                       fallback=f"{r['fallback_s'] or 0:.0f}") if r["relayed_s"] is not None else "")
            heard = f"[{heard_of(r)}] " if r["heard"] else ""
            click.echo(f"{shown}  {where + r['zone']:<12} {r['bulletin'] or '-':<24} "
                       f"{_(STATUS_WORDS.get(r['status'], r['status'])):<11} {relay}{heard}"
                       f"{r['reason'] or ''}".rstrip())



def read_rows(cfg: Config, station: str | None, **filters) -> list:
    """This PC's play log; at a hub with the rows collected from every station below it (or one station's,
    at any depth: "xa_a/cum_1" is cluster cum_1 of station xa_a)."""
    from broadcaster.records.playlog import Journal
    hub = cfg.is_hub
    if station is not None and not hub:
        raise ConfigError(_("--station is for a hub's project, where the stations' play logs are collected"))
    journal = Journal(cfg.paths.state)
    try:
        if station is not None and station not in journal.station_counts():
            require_known("station", (station,), cfg, known=cfg.stations())
        if hub:
            _collect(cfg, journal)
        rows = [] if station else journal.rows(**filters)
        if hub:
            rows = sorted(rows + journal.station_rows(station=station, **filters),
                          key=lambda r: (datetime.fromisoformat(r.scheduled).timestamp(), r.station or "", r.zone))
        return rows
    finally:
        journal.close()


def _collect(cfg: Config, journal) -> None:
    """At a hub: take the stations' rows waiting on the message server first, if it answers."""
    import asyncio
    from broadcaster.errors import FleetError
    from broadcaster.fleet.collect import collect_once
    try:
        asyncio.run(collect_once(cfg, journal))
    except (FleetError, ConfigError) as e:
        warn(_("the stations' newest rows could not be collected ({reason}); showing what was collected before",
               reason=e))


def _config_or_last_good(obj: Context, errors_too: bool = False) -> tuple[Config, str | None]:
    """The project's configuration (``errors_too``: with no error `check` would find), or when it cannot be used
    the last good one the daemon ran, with why (said in red); ConfigError when there is none."""
    from broadcaster.config.lastgood import last_good
    from broadcaster.records.check import project_errors
    try:
        cfg = obj.config()
        if errors_too:
            project_errors(cfg, local_now(cfg))
        return cfg, None
    except ConfigError as e:
        kept = last_good(find_config(obj.config_option), obj.allow_outside)
        if kept is None:
            raise
        for line in e.problems:
            click.secho(line, fg="red", err=True)
        click.secho(_("ALERT: the configuration cannot be used; the last good one (kept {when}) runs until it can",
                      when=kept.saved), fg="red", err=True)
        return kept.cfg, str(e)


@click.command()
@click.pass_obj
def status(obj: Context) -> None:
    """Per zone: what is playing, what comes next, and the last airing."""
    from broadcaster.records.alerts import AlertLog
    from broadcaster.records.check import check_approvals
    from broadcaster.records.overview import heard_of, zone_states
    from broadcaster.records.playlog import Journal
    cfg, _problem = _config_or_last_good(obj)
    journal = Journal(cfg.paths.state)
    try:
        daemons = journal.live_daemons()
        zones = zone_states(cfg, journal, local_now(cfg))   # the same model as the console's overview
        station_wide = [a for a in AlertLog(journal).active() if a.zone not in cfg.zones]
    finally:
        journal.close()
    for a in station_wide:   # the configuration, a hub's malformed messages: not one zone's
        click.secho(f"{_('ALERT')}: {a.line()}", fg="red", bold=True)
    for f in check_approvals(cfg):
        click.secho(f"{_('approval')}: {f.message}", fg="yellow")
    click.echo(_("Daemons running: {pids}", pids=", ".join(str(p) for p, _z in daemons) or "-"))
    for z in zones:
        playing, nxt, last = z.playing, z.coming, z.last
        click.echo(f"{z.zone} — {z.name}" + ("" if z.served else _(" (no daemon serves it)")))
        labels = [_("playing:"), _("next:"), _("last:")]
        width = max(map(len, labels)) + 1
        click.echo(f"  {labels[0]:<{width}}" + (_("{bulletin} since {time}", bulletin=playing.bulletin,
                                                    time=playing.started[11:19]) if playing else "-"))
        click.echo(f"  {labels[1]:<{width}}" + (_("{bulletin} at {time}", bulletin=nxt.bulletin, time=when(nxt.time))
                                                 if nxt else "-"))
        click.echo(f"  {labels[2]:<{width}}" + (_("{bulletin} at {time}: {status}", bulletin=last.bulletin or "-",
                                                    time=when(datetime.fromisoformat(last.scheduled)),
                                                    status=_(STATUS_WORDS.get(last.status, last.status)))
                                                 + (f" ({last.reason})" if last.dropouts else "") if last else "-"))
        if last and last.heard:
            click.echo(f"  {'':<{width}}[{heard_of(last.__dict__)}]")
        if z.device_problem:
            click.secho(f"  {z.device_problem}", fg="red")
        for a in z.alerts:
            click.secho(f"  {_('ALERT')}: {a.line()}", fg="red", bold=True)


@click.command()
def devices() -> None:
    """List the sound outputs (a zone's device) and inputs (a relayed source's device)."""
    from broadcaster.audio.player import list_outputs
    outs = list_outputs()
    if not outs:
        click.echo(_("No sound outputs found. Plug in a sound card or check the sound system."))
        return
    _device_table(outs)
    click.echo(_('* = the default output (device = "default")'))
    ins = list_outputs(inputs=True)
    if ins:
        click.echo()
        click.echo(_("Inputs (a line-in to relay: [sources.ID] device = \"NAME\"; a zone's monitor = \"NAME\"):"))
        _device_table(ins)


def _device_table(devices) -> None:
    click.echo(f"{'#':>3}  {_('device name (use in schedule.toml)'):<48} {_('system'):<12} "
               f"{_('channels'):>8}  {_('rate')}")
    for o in devices:
        mark = "*" if o.is_default else " "
        click.echo(f"{o.index:>3}{mark} {o.name:<48} {o.hostapi:<12} {o.channels:>8}  {o.default_rate:.0f}")
