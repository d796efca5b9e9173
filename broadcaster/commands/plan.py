"""The schedule seen from the desk: `check` and `next`."""

from __future__ import annotations

import re
import sys

import click

from broadcaster.commands.common import Context, fmt_duration, local_now, parse_from, progress, require_known
from broadcaster.config import display_path
from broadcaster.errors import ConfigError
from broadcaster.config import ORIGIN_WORDS, PRIORITY_WORDS
from broadcaster.i18n import N_, _, language, when

@click.command()
@click.option("--strict", is_flag=True, help=N_("treat warnings as errors"))
@click.pass_obj
def check(obj: Context, strict: bool) -> None:
    """Validate the whole project: config, scripts, jingles, slots, quiet hours, overlaps."""
    from broadcaster.records.check import Finding, check_project
    lang = language()
    try:
        cfg = obj.config()
    except ConfigError as e:
        for line in e.problems:
            located = re.match(r"([^\s:]+(?::\d+)?): (.*)$", line, re.S)
            shown = (Finding("error", located[1], located[2]).render(lang) if located
                     else f"{_('error', lang)}: {line}")
            click.secho(shown, fg="red", err=True)
        sys.exit(2)   # an input to fix (README: exit status)
    findings = check_project(cfg, local_now(cfg), lang,
                             each=lambda items: progress(items, _("Checking", lang), lambda b: b.id if b else ""))
    errors = [f for f in findings if f.level == "error" or strict]
    for f in findings:   # with --strict a warning is an error: said so on its line as in the sum
        click.secho(f.render(lang, "error" if f in errors else None), fg="red" if f in errors else "yellow", err=True)
    path = display_path(cfg.path)
    if findings:
        click.echo(_("{path}: {errors} errors, {warnings} warnings.", lang, path=path, errors=len(errors),
                     warnings=len(findings) - len(errors)))
    else:
        click.echo(_("{path}: no problems found ({bulletins} bulletins, {zones} zones, {slots} slots).", lang,
                     path=path, bulletins=len(cfg.bulletins), zones=len(cfg.zones), slots=len(cfg.slots)))
    if errors:
        sys.exit(2)


@click.command(name="next")
@click.option("--days", type=click.IntRange(1, 366), default=1, show_default=True, help=N_("how many days ahead"))
@click.option("--zone", "zones", multiple=True, help=N_("only this zone (repeatable)"))
@click.option("--from", "start", metavar="DATETIME", help=N_("start here instead of now (2020-08-05 or 2020-08-05T05:00)"))
@click.option("--json", "as_json", is_flag=True, help=N_("print a JSON list: time, zone, bulletin, priority"))
@click.pass_obj
def next_airings(obj: Context, days: int, zones: tuple[str, ...], start: str | None, as_json: bool) -> None:
    """The coming airings, in order, one line per zone."""
    import json
    from datetime import timedelta
    from broadcaster.render.sidecar import durations
    from broadcaster.config.schedule import airings, length_of
    cfg = obj.config()
    require_known("zone", zones, cfg)
    t0 = parse_from(start, cfg)
    lengths = durations(cfg)
    found = airings(cfg, t0, t0 + timedelta(days=days), zones=set(zones) or None, lengths=lengths)
    if as_json:
        click.echo(json.dumps([{"time": a.time.isoformat(), "zone": a.zone, "bulletin": a.bulletin,
                                "priority": a.priority, "origin": a.origin,
                                **({"moved_from": a.moved_from.isoformat()} if a.moved_from else {}),
                                **({"relay": True, "ends": a.ends.isoformat()} if a.relay else {})} for a in found], ensure_ascii=False,
                              indent=1))
        return
    lang = language()
    if not found:
        click.echo(_("No airings in the next {days} days.", lang, days=days))
        return
    rows = [(when(a.time, lang), a.zone, a.bulletin, (_("relay: ", lang) if a.relay else "") + cfg.title_of(a.bulletin)
             + (_(" (moved from {time})", lang, time=when(a.moved_from, lang)) if a.moved_from else ""),
             _(PRIORITY_WORDS[a.priority]), fmt_duration(length_of(a, lengths)) if length_of(a, lengths) else "-")
            for a in found]
    header = [_(h, lang) for h in (N_("time"), N_("zone"), N_("bulletin"), N_("title"), N_("priority"),
                                   N_("duration"))]
    if cfg.fleet is not None:   # where each airing comes from: this station's own, or a hub's above
        rows = [r + (_(ORIGIN_WORDS[a.origin]) if a.origin in ORIGIN_WORDS else a.origin,) for r, a in zip(rows, found)]
        header.append(_("from", lang))
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    for r in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
