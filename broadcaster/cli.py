"""The command line: parse, call, print. The one place errors become messages and exit codes.

Exit status: 0 success; 1 something failed that is not the user's input (a voice
could not be reached, a device is missing); 2 the input needs fixing (config,
script, jingle, arguments). No traceback reaches the user for any of these.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from broadcaster import __version__
from broadcaster.config import AUTO_ENGINES, Config, TTSSettings, display_path, find_config, load_config
from broadcaster.errors import BroadcasterError, ConfigError
from broadcaster.engines import engine_names


@dataclasses.dataclass
class Context:
    config_option: str | None
    allow_outside: bool
    _cfg: Config | None = None

    def config(self) -> Config:
        if self._cfg is None:
            self._cfg = load_config(find_config(self.config_option), allow_outside=self.allow_outside)
        return self._cfg


def warn(message: str) -> None:
    click.secho(f"warning: {message}", fg="yellow", err=True)


def _engines_option(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names: list[str] = []
    for part in value.split(","):
        part = part.strip()
        for n in (AUTO_ENGINES if part == "auto" else (part,)):
            if n not in engine_names():
                raise click.BadParameter(f'"{n}" is not an engine; choose from auto, '
                                         + ", ".join(sorted(engine_names())), param_hint="--engine")
            if n not in names:
                names.append(n)
    return tuple(names)


ENGINE_HELP = "speak with this engine: auto, gtts, espeak (or a list: gtts,espeak)"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", "config_path", metavar="FILE",
              help="the schedule.toml to use (default: $BROADCASTER_CONFIG, else ./schedule.toml)")
@click.option("--allow-outside", is_flag=True,
              help="let paths in the config and on the command line point outside the project folder")
@click.version_option(__version__, prog_name="broadcaster")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, allow_outside: bool) -> None:
    """broadcaster: turns announcement scripts into broadcast-ready audio and airs them on schedule."""
    ctx.obj = Context(config_path, allow_outside)


def progress(items, label: str, show=None):
    """A progress bar on a terminal; nothing when output goes to a file or a pipe."""
    if not sys.stderr.isatty():
        yield from items
        return
    with click.progressbar(items, label=label, file=sys.stderr, item_show_func=show) as bar:
        yield from bar


def _now(cfg: Config | None) -> datetime:
    return datetime.now(ZoneInfo(cfg.timezone)) if cfg else datetime.now().astimezone()


def _speaker(state: Path, root: Path):
    from broadcaster.speech import SentenceCache, Speaker
    return Speaker(SentenceCache(state / "cache"), warn=warn, root=root)


def _fmt_duration(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def _engine_label(name: str) -> str:
    from broadcaster.speech import ENGINE_LABELS
    return ENGINE_LABELS.get(name, name)


@cli.command()
@click.argument("bulletins", nargs=-1, metavar="[BULLETIN]...")
@click.option("--engine", help=ENGINE_HELP)
@click.option("--force", is_flag=True, help="render again even when nothing changed")
@click.pass_obj
def build(obj: Context, bulletins: tuple[str, ...], engine: str | None, force: bool) -> None:
    """Render every bulletin (or the ones named) to audio_out/."""
    from broadcaster.build import Jingles, build_bulletin
    cfg = obj.config()
    engines = _engines_option(engine)
    unknown = [b for b in bulletins if b not in cfg.bulletins]
    if unknown:
        from difflib import get_close_matches
        close = get_close_matches(unknown[0], list(cfg.bulletins), n=1)
        raise ConfigError(f'no bulletin "{unknown[0]}" in {display_path(cfg.path)}'
                          + (f' (did you mean "{close[0]}"?)' if close else ""),
                          hint="`broadcaster build` with no names builds them all")
    chosen = [cfg.bulletins[b] for b in (bulletins or cfg.bulletins)]
    if engines:
        chosen = [dataclasses.replace(b, tts=dataclasses.replace(b.tts, engines=engines)) for b in chosen]
    speaker = _speaker(cfg.paths.state, cfg.root)
    jingles = Jingles(cfg)
    now = _now(cfg)
    results = []
    for b in progress(chosen, "Rendering", lambda b: b.id if b else ""):
        results.append(build_bulletin(cfg, b, speaker, jingles, now=now, force=force))
    worst = 0
    for r in results:
        for notice in r.notices:
            warn(f"{r.bulletin}: {notice}")
        if r.status == "failed":
            click.secho(f"error: {r.bulletin}: {r.error}", fg="red", err=True)
            worst = max(worst, r.error.exit_code if r.error else 1)
            continue
        s = r.sidecar or {}
        label = "built     " if r.status == "built" else "up to date"
        extra = f"  [{r.synthesized} synthesised, {r.from_cache} from cache]" if r.status == "built" else ""
        click.echo(f"  {label}  {r.bulletin:<24} {_fmt_duration(s.get('duration_s', 0)):>6}  "
                   f"{s.get('loudness_lufs', float('nan')):6.1f} LUFS  {s.get('true_peak_dbtp', float('nan')):5.1f} dBTP  "
                   f"{s.get('engine', '?')} ({_engine_label(s.get('engine', '?'))})  "
                   f"{display_path(r.output) if r.output else ''}{extra}")
    n = {k: sum(r.status == k for r in results) for k in ("built", "up-to-date", "failed")}
    click.echo(f"{n['built']} built, {n['up-to-date']} up to date, {n['failed']} failed; "
               f"{speaker.synthesized} sentences synthesised, {speaker.from_cache} from cache.")
    if worst:
        sys.exit(worst)


@cli.command()
@click.argument("text", required=False)
@click.option("--file", "-f", "text_file", type=click.Path(dir_okay=False), help="read the text from this file")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="where to write the audio (.mp3 or .wav)")
@click.option("--engine", help=ENGINE_HELP)
@click.option("--repeat", type=click.IntRange(1, 20), help="times to read the text (default: the config's)")
@click.option("--no-jingles", is_flag=True, help="leave out the opening and closing jingles")
@click.pass_obj
def say(obj: Context, text: str | None, text_file: str | None, output: str, engine: str | None,
        repeat: int | None, no_jingles: bool) -> None:
    """Render a one-off announcement (TEXT, or --file) to an audio file, e.g. for an urgent notice."""
    from broadcaster.audiofile import audio_duration
    from broadcaster.build import Jingles, render_audio
    from broadcaster.config import AudioSettings
    from broadcaster.scripts import read_script, split_paragraphs
    if (text is None) == (text_file is None):
        raise click.UsageError("give the announcement as TEXT or with --file, not both and not neither")
    try:
        cfg: Config | None = obj.config()
    except ConfigError:
        if obj.config_option:
            raise
        cfg = None  # no project here: defaults, so an urgent notice never waits for a config
    root = cfg.root if cfg else Path.cwd().resolve()
    out = Path(output).resolve()
    if not obj.allow_outside and not out.is_relative_to(root):
        raise ConfigError(f'output "{output}" is outside the project folder {display_path(root)}',
                          hint="write it inside the project, or pass --allow-outside")
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("mp3", "wav"):
        raise click.BadParameter("the output must end in .mp3 or .wav", param_hint="-o/--output")
    if text_file:
        src = Path(text_file).resolve()
        if not obj.allow_outside and not src.is_relative_to(root):
            raise ConfigError(f'"{text_file}" is outside the project folder', hint="pass --allow-outside")
        paragraphs = read_script(src, display=text_file).paragraphs
    else:
        paragraphs = split_paragraphs(text or "")
        if not paragraphs:
            raise click.BadParameter("there is nothing to read in TEXT", param_hint="TEXT")
    tts = cfg.tts if cfg else TTSSettings()
    audio = cfg.audio if cfg else AudioSettings()
    if engine:
        tts = dataclasses.replace(tts, engines=_engines_option(engine))
    audio = dataclasses.replace(audio, format=fmt, repeat=repeat or audio.repeat)
    if no_jingles:
        audio = dataclasses.replace(audio, jingle_in=None, jingle_out=None)
    from broadcaster.reading import spoken_paragraphs
    from broadcaster.scripts import Script
    spoken = spoken_paragraphs(Script(out, "utf-8", paragraphs), tts.lexicon)
    jingles = Jingles(cfg)
    where = cfg.where("audio") if cfg else "defaults"
    speaker = _speaker(cfg.paths.state if cfg else root / "state", root)
    r = render_audio(spoken, tts, audio, speaker=speaker,
                     jingle_in=jingles.get(audio.jingle_in, audio, where),
                     jingle_out=jingles.get(audio.jingle_out, audio, where),
                     target=out, tags={"title": (text or Path(text_file).stem)[:60],
                                       "date": _now(cfg).strftime("%Y-%m-%d"), "artist": "broadcaster"})
    click.echo(f"wrote {display_path(out)}: {_fmt_duration(audio_duration(out))}, "
               f"{r.loudness_lufs:.1f} LUFS, {r.true_peak_dbtp:.1f} dBTP, "
               f"spoken by {r.engine} ({_engine_label(r.engine)})")


@cli.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--explain", is_flag=True, help="show each rewrite and the rule or lexicon entry that made it")
@click.option("--lexicon", type=click.Path(dir_okay=False), help="a project lexicon (default: the config's)")
@click.pass_obj
def normalize(obj: Context, file: str | None, explain: bool, lexicon: str | None) -> None:
    """Print what will be read aloud: one spoken line per line of FILE (or standard input)."""
    from broadcaster.scripts import decode_text
    from broadcaster.textnorm import Normalizer, load_lexicon
    lex_path = Path(lexicon) if lexicon else _config_lexicon(obj)
    norm = Normalizer(load_lexicon(lex_path))
    if file:
        try:
            data = Path(file).read_bytes()
        except OSError as e:
            raise ConfigError(f"cannot read {file}: {e.strerror}") from None
    else:
        data = sys.stdin.buffer.read()
    text, _enc, notices = decode_text(data, where=f"{file or '<stdin>'}:1")
    for n in notices:
        warn(n)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = click.get_text_stream("stdout")
    for line in lines:
        if line.lstrip().startswith("#"):
            out.write(line + "\n")
            continue
        if not explain:
            out.write(norm.normalize(line) + "\n")
            continue
        spoken, rewrites = norm.explain(line)
        out.write(spoken + "\n")
        for r in sorted(rewrites, key=lambda r: (line.find(r.original) % (len(line) + 1))):
            out.write(f"    {r.original}  →  {r.spoken}   [{r.rule}]\n")


def _config_lexicon(obj: Context) -> Path | None:
    """The project's lexicon when there is a readable config here; else none."""
    try:
        return obj.config().tts.lexicon
    except ConfigError:
        if obj.config_option:
            raise
        return None


@cli.command()
@click.option("--strict", is_flag=True, help="treat warnings as errors")
@click.pass_obj
def check(obj: Context, strict: bool) -> None:
    """Validate the whole project: config, scripts, jingles, slots, quiet hours, overlaps."""
    from broadcaster.check import Finding, check_project
    from broadcaster.messages import language, text as msg
    lang = language()
    try:
        cfg = obj.config()
    except ConfigError as e:
        for line in e.problems:
            where, _, message = line.partition(": ")
            click.secho(Finding("error", where, message).render(lang), fg="red", err=True)
        sys.exit(1)
    findings = check_project(cfg, _now(cfg), lang)
    errors = [f for f in findings if f.level == "error" or strict]
    for f in findings:
        click.secho(f.render(lang), fg="red" if f in errors else "yellow", err=True)
    path = display_path(cfg.path)
    if findings:
        click.echo(msg("summary", lang, path=path, errors=len(errors), warnings=len(findings) - len(errors)))
    else:
        click.echo(msg("summary_clean", lang, path=path, bulletins=len(cfg.bulletins), zones=len(cfg.zones),
                       slots=len(cfg.slots)))
    if errors:
        sys.exit(1)


def _parse_from(value: str | None, cfg: Config) -> datetime:
    tz = ZoneInfo(cfg.timezone)
    if value is None:
        return _now(cfg)
    try:
        t = datetime.fromisoformat(value.replace(" ", "T"))
    except ValueError:
        raise click.BadParameter(f'"{value}" is not a date and time like 2020-08-05 or 2020-08-05T05:00',
                                 param_hint="--from") from None
    return t if t.tzinfo else t.replace(tzinfo=tz)


@cli.command(name="next")
@click.option("--days", type=click.IntRange(1, 366), default=1, show_default=True, help="how many days ahead")
@click.option("--zone", "zones", multiple=True, help="only this zone (repeatable)")
@click.option("--from", "start", metavar="DATETIME", help="start here instead of now (2020-08-05 or 2020-08-05T05:00)")
@click.option("--json", "as_json", is_flag=True, help="print a JSON list: time, zone, bulletin, priority")
@click.pass_obj
def next_airings(obj: Context, days: int, zones: tuple[str, ...], start: str | None, as_json: bool) -> None:
    """The coming airings, in order, one line per zone."""
    import json
    from datetime import timedelta
    from broadcaster.sidecar import durations
    from broadcaster.messages import language, text as msg
    from broadcaster.schedule import airings
    cfg = obj.config()
    for z in zones:
        if z not in cfg.zones:
            from difflib import get_close_matches
            close = get_close_matches(z, list(cfg.zones), n=1)
            raise ConfigError(f'no zone "{z}" in {display_path(cfg.path)}'
                              + (f' (did you mean "{close[0]}"?)' if close else ""))
    t0 = _parse_from(start, cfg)
    found = airings(cfg, t0, t0 + timedelta(days=days), zones=set(zones) or None)
    if as_json:
        click.echo(json.dumps([{"time": a.time.isoformat(), "zone": a.zone, "bulletin": a.bulletin,
                                "priority": a.priority} for a in found], ensure_ascii=False, indent=1))
        return
    lang = language()
    if not found:
        click.echo(msg("next_none", lang, days=days))
        return
    lengths = durations(cfg)
    rows = [(a.time.strftime("%Y-%m-%d %H:%M:%S %z"), a.zone, a.bulletin, cfg.bulletins[a.bulletin].title,
             a.priority, _fmt_duration(lengths[a.bulletin]) if a.bulletin in lengths else "-") for a in found]
    header = msg("next_header", lang)
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    for r in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


@cli.command()
@click.option("--zone", "zones", multiple=True, help="serve only this zone (repeatable; default: every zone)")
@click.option("-v", "--verbose", is_flag=True, help="log more detail")
@click.pass_obj
def daemon(obj: Context, zones: tuple[str, ...], verbose: bool) -> None:
    """Play the schedule on this PC's zones until stopped (Ctrl+C or SIGTERM)."""
    from broadcaster.daemon import Daemon, setup_logging
    cfg = obj.config()
    from broadcaster.check import check_project
    problems = [f for f in check_project(cfg, _now(cfg)) if f.level == "error"]
    if problems:
        for f in problems:
            click.secho(f.render(), fg="red", err=True)
        raise ConfigError("the project has errors; the daemon did not start", hint="fix them, then start it again")
    setup_logging(cfg.paths.state, verbose)
    Daemon(cfg.path, zones=list(zones) or None, allow_outside=obj.allow_outside).run_forever()


@cli.command()
@click.argument("target")
@click.option("--zone", required=True, help="the zone to play on")
@click.option("--urgent", is_flag=True, help="interrupt what is playing and play now, even in quiet hours")
@click.option("--priority", "high", is_flag=True, help="go ahead of waiting normal airings")
@click.pass_obj
def play(obj: Context, target: str, zone: str, urgent: bool, high: bool) -> None:
    """Play a bulletin (by id) or an audio file on a zone, now.

    When a daemon serves the zone, it plays it (through the play log's request queue);
    otherwise it plays here and waits until done. Either way it is logged.
    """
    import time as _t
    from broadcaster.playlog import Journal
    cfg = obj.config()
    if zone not in cfg.zones:
        raise ConfigError(f'no zone "{zone}" in {display_path(cfg.path)}', hint=f"zones: {', '.join(cfg.zones)}")
    priority = "urgent" if urgent else "priority" if high else "normal"
    if target not in cfg.bulletins:
        path = Path(target).resolve()
        if not path.is_file():
            raise ConfigError(f'"{target}" is neither a bulletin id nor an audio file',
                              hint=f"bulletins: {', '.join(cfg.bulletins)}")
        if not cfg.inside(path):
            raise ConfigError(f'"{target}" is outside the project folder', hint="pass --allow-outside")
        target = str(path)
    journal = Journal(cfg.paths.state)
    try:
        served = [pid for pid, zs in journal.live_daemons() if zone in zs]
        if served:
            rid = journal.add_request(target, zone, priority, _now(cfg))
            click.echo(f"Sent to the daemon (pid {served[0]}) serving zone {zone}; waiting for it to play…")
            while True:
                status, reason, row = journal.request_state(rid)
                if status in ("done", "failed", "interrupted"):
                    break
                _t.sleep(0.3)
            click.echo(f"{status}" + (f": {reason}" if reason else ""))
            if status != "done":
                sys.exit(1)
            return
        _play_here(cfg, journal, target, zone, priority)
    finally:
        journal.close()


def _play_here(cfg: Config, journal, target: str, zone: str, priority: str) -> None:
    from broadcaster.player import Playback, find_output
    from broadcaster.fsutil import sha256_file
    now = _now(cfg)
    bulletin = target if target in cfg.bulletins else None
    path = cfg.bulletins[target].output_path(cfg.paths) if bulletin else Path(target)
    if not path.is_file():
        raise ConfigError(f"no rendered audio for {target}", hint="run broadcaster build")
    z = cfg.zones[zone]
    pb = Playback(find_output(z.device).index, path, z.volume)
    import time as _t
    pb.start_at(_t.time() + 0.2)
    row = journal.start(scheduled=now, zone=zone, bulletin=bulletin, audio=str(path),
                        audio_sha256=sha256_file(path), priority=priority, slot=None, request=None, started=now)
    click.echo(f"Playing {path.name} on {zone} (no daemon serves this zone); Ctrl+C stops it.")
    status, reason = "played", None
    try:
        while not pb.wait(0.2):
            pass
    except KeyboardInterrupt:
        pb.fade_out(0.3)
        pb.wait(2)
        status, reason = "interrupted", "stopped with Ctrl+C"
    finally:
        pb.close()
    if pb.feeder.error:
        status, reason = "failed", pb.feeder.error
    journal.finish(row, status, _now(cfg), reason)
    click.echo(status + (f": {reason}" if reason else ""))


@cli.command(name="log")
@click.option("--since", metavar="DATE", help="from this date (2020-08-01) or date and time")
@click.option("--zone", help="only this zone")
@click.option("--json", "as_json", is_flag=True, help="a JSON list of objects")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header line")
@click.pass_obj
def show_log(obj: Context, since: str | None, zone: str | None, as_json: bool, as_csv: bool) -> None:
    """The play log: every airing, when it started and ended, and how it went."""
    import csv
    import json
    from broadcaster.playlog import Journal
    cfg = obj.config()
    t0 = _parse_from(since, cfg).timestamp() if since else None
    journal = Journal(cfg.paths.state)
    try:
        rows = journal.rows(since=t0, zone=zone)
    finally:
        journal.close()
    records = [{"scheduled": r.scheduled, "started": r.started, "ended": r.ended, "zone": r.zone,
                "bulletin": r.bulletin or (Path(r.audio).name if r.audio else None), "status": r.status,
                "reason": r.reason} for r in rows]
    if as_json:
        click.echo(json.dumps(records, ensure_ascii=False, indent=1))
    elif as_csv:
        w = csv.DictWriter(click.get_text_stream("stdout"), fieldnames=list(records[0]) if records else
                           ["scheduled", "started", "ended", "zone", "bulletin", "status", "reason"])
        w.writeheader()
        w.writerows(records)
    elif not records:
        click.echo("The play log is empty" + (" for that choice." if since or zone else "."))
    else:
        for r in records:
            click.echo(f"{r['scheduled'][:19].replace('T', ' ')}  {r['zone']:<12} {r['bulletin'] or '-':<24} "
                       f"{r['status']:<11} {r['reason'] or ''}".rstrip())


@cli.command()
@click.pass_obj
def status(obj: Context) -> None:
    """Per zone: what is playing, what comes next, and the last airing."""
    from datetime import timedelta
    from broadcaster.playlog import Journal
    from broadcaster.schedule import airings
    cfg = obj.config()
    now = _now(cfg)
    journal = Journal(cfg.paths.state)
    try:
        daemons = journal.live_daemons()
        rows = journal.rows(since=(now - timedelta(days=30)).timestamp())
    finally:
        journal.close()
    coming = airings(cfg, now, now + timedelta(days=7))
    served = {z for _pid, zs in daemons for z in zs}
    click.echo(f"Daemons running: {', '.join(str(p) for p, _ in daemons) or 'none'}")
    for zid, z in cfg.zones.items():
        playing = [r for r in rows if r.zone == zid and r.status == "playing"]
        done = [r for r in rows if r.zone == zid and r.status != "playing"]
        nxt = next((a for a in coming if a.zone == zid), None)
        click.echo(f"{zid} — {z.name}{'' if zid in served else ' (no daemon serves it)'}")
        click.echo(f"  playing: {playing[-1].bulletin + ' since ' + playing[-1].started[11:19] if playing else '-'}")
        click.echo(f"  next:    {nxt.bulletin + ' at ' + nxt.time.strftime('%Y-%m-%d %H:%M') if nxt else '-'}")
        click.echo(f"  last:    " + (f"{done[-1].bulletin or '-'} at {done[-1].scheduled[:16].replace('T', ' ')}: "
                                     f"{done[-1].status}" if done else "-"))


@cli.command()
@click.pass_obj
def voices(obj: Context) -> None:
    """Every TTS engine: whether it can be used here (and why not), and its Vietnamese voices."""
    from broadcaster.engines import create_engine, engine_names
    from broadcaster.errors import BroadcasterError as _Err
    try:
        root = obj.config().root
    except ConfigError:
        if obj.config_option:
            raise
        root = Path.cwd()
    options = {"piper": {"voices_dir": root / "voices"}}
    for name in sorted(engine_names()):
        try:
            eng = create_engine(name, **options.get(name, {}))
            reason = eng.unavailable_reason()
            found = eng.voices()
        except _Err as e:
            reason, found = e.message, []
        kind = "online" if getattr(eng, "online", False) else "offline"
        state = click.style("available", fg="green") if reason is None else click.style(f"not available: {reason}",
                                                                                          fg="yellow")
        click.echo(f"{name} ({kind}): {state}")
        for v in found:
            shown = display_path(Path(v.id)) if v.id.endswith(".onnx") else v.id
            click.echo(f"    {shown:<36} accent: {v.accent:<10} voice: {v.gender}")
        if name == "piper" and not found:
            click.echo(f"    (put NAME.onnx and NAME.onnx.json in {display_path(root / 'voices')}; see README)")


@cli.command()
def devices() -> None:
    """List the sound outputs, with the names to use as a zone's device."""
    from broadcaster.player import list_outputs
    outs = list_outputs()
    if not outs:
        click.echo("No sound outputs found. Plug in a sound card or check the sound system.")
        return
    click.echo(f"{'#':>3}  {'device name (use in schedule.toml)':<48} {'system':<12} channels  rate")
    for o in outs:
        mark = "*" if o.is_default else " "
        click.echo(f"{o.index:>3}{mark} {o.name:<48} {o.hostapi:<12} {o.channels:>8}  {o.default_rate:.0f}")
    click.echo('* = the default output (device = "default")')


def run(argv: list[str] | None = None) -> int:
    """Run a command line; every BroadcasterError becomes one line and an exit status."""
    try:
        rv = cli.main(args=argv, prog_name="broadcaster", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Stopped.", err=True)
        return 130
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except BroadcasterError as e:
        for line in str(e).splitlines():
            click.secho(f"error: {line}", fg="red", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        click.echo("Stopped.", err=True)
        return 130
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except Exception as e:  # a bug: one line for the technician, the traceback on request
        if os.environ.get("BROADCASTER_DEBUG"):
            raise
        click.secho(f"internal error: {type(e).__name__}: {e}", fg="red", err=True)
        click.echo("This is a bug in broadcaster. Run again with BROADCASTER_DEBUG=1 "
                   "and send the output to the developers.", err=True)
        return 70
    return rv if isinstance(rv, int) else 0


def main() -> None:
    sys.exit(run())
