"""Turning scripts into audio: `build` and `say`."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from broadcaster.commands.common import (ENGINE_HELP, Context, engine_label, engines_option, fmt_duration, local_now,
                                         make_speaker, project_path, require_known, status_line, warn)
from broadcaster.config import Config, TTSSettings, display_path
from broadcaster.errors import ConfigError
from broadcaster.i18n import N_, _

@click.command()
@click.argument("bulletins", nargs=-1, metavar="[BULLETIN]...")
@click.option("--engine", help=ENGINE_HELP)
@click.option("--force", is_flag=True, help=N_("render again even when nothing changed"))
@click.pass_obj
def build(obj: Context, bulletins: tuple[str, ...], engine: str | None, force: bool) -> None:
    """Render every bulletin (or the ones named) to audio_out/."""
    from broadcaster.render.build import Jingles, build_bulletin
    cfg = obj.config()
    engines = engines_option(engine)
    require_known("bulletin", bulletins, cfg, hint=_("`broadcaster build` with no names builds them all"))
    chosen = [cfg.bulletins[b] for b in (bulletins or cfg.bulletins) if cfg.bulletins[b].rendered]
    if engines:
        chosen = [dataclasses.replace(b, tts=dataclasses.replace(b.tts, engines=engines)) for b in chosen]
    speaker = make_speaker(cfg.paths.state, cfg.root)
    jingles = Jingles()
    now = local_now(cfg)
    results = []
    worst = 0
    for i, b in enumerate(chosen, start=1):
        def said(done: int, total: int, b=b, i=i) -> None:
            status_line(_("Rendering {bulletin} ({number} of {count}): sentence {done} of {total}", bulletin=b.id,
                          number=i, count=len(chosen), done=done, total=total))
        speaker.on_sentence = said
        status_line(_("Rendering {bulletin} ({number} of {count})…", bulletin=b.id, number=i, count=len(chosen)))
        r = build_bulletin(cfg, b, speaker, jingles, now=now, force=force)
        status_line(None)
        results.append(r)
        worst = max(worst, _show_result(r))
    n = {k: sum(r.status == k for r in results) for k in ("built", "up-to-date", "failed")}
    click.echo(_("{built} built, {current} up to date, {failed} failed; {synthesized} sentences synthesised, "
                 "{cached} from cache.", built=n["built"], current=n["up-to-date"], failed=n["failed"],
                 synthesized=speaker.synthesized, cached=speaker.from_cache))
    if worst:
        sys.exit(worst)


def _show_result(r) -> int:
    """One line for a bulletin as soon as it is done; its exit status (0 if it went well)."""
    for notice in r.notices:
        warn(f"{r.bulletin}: {notice}")
    if r.status == "failed":
        click.secho(f"{_('error')}: {r.bulletin}: {r.error}", fg="red", err=True)
        return r.error.exit_code if r.error else 1
    s = r.sidecar or {}
    label = _("built") if r.status == "built" else _("up to date")
    label += " " * max(0, len(_("up to date")) - len(label))
    extra = (_("  [{synthesized} synthesised, {cached} from cache]", synthesized=r.synthesized,
               cached=r.from_cache) if r.status == "built" else "")
    click.echo(f"  {label}  {r.bulletin:<24} {fmt_duration(s.get('duration_s', 0)):>6}  "
               f"{s.get('loudness_lufs', float('nan')):6.1f} LUFS  {s.get('true_peak_dbtp', float('nan')):5.1f} dBTP  "
               f"{s.get('engine', '?')} ({engine_label(s.get('engine', '?'))})  "
               f"{display_path(r.output) if r.output else ''}{extra}")
    return 0


@click.command()
@click.argument("text", required=False)
@click.option("--file", "-f", "text_file", type=click.Path(dir_okay=False),
              help=N_("read the text from this file"))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help=N_("where to write the audio (.mp3 or .wav)"))
@click.option("--engine", help=ENGINE_HELP)
@click.option("--repeat", type=click.IntRange(1, 20), help=N_("times to read the text (default: the config's)"))
@click.option("--no-jingles", is_flag=True, help=N_("leave out the opening and closing jingles"))
@click.pass_obj
def say(obj: Context, text: str | None, text_file: str | None, output: str, engine: str | None,
        repeat: int | None, no_jingles: bool) -> None:
    """Render a one-off announcement (TEXT, or --file) to an audio file, e.g. for an urgent notice."""
    from broadcaster.audio.files import audio_duration
    from broadcaster.render.build import Jingles, render_audio
    from broadcaster.text.scripts import read_script, split_paragraphs
    if (text is None) == (text_file is None):
        raise click.UsageError(_("give the announcement as TEXT or with --file, not both and not neither"))
    try:
        cfg: Config | None = obj.config()
    except ConfigError as e:
        if obj.config_option:
            raise
        cfg = None  # no project here, or one with mistakes: an urgent notice never waits for a config
        project_voice = _voice_settings_despite(e)
    root = cfg.root if cfg else Path.cwd().resolve()
    out = project_path(obj, output, "-o/--output", root)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("mp3", "wav"):
        raise click.BadParameter(_("the output must end in .mp3 or .wav"), param_hint="-o/--output")
    if text_file:
        src = project_path(obj, text_file, "--file", root)
        paragraphs = read_script(src, display=text_file).paragraphs
    else:
        paragraphs = split_paragraphs(text or "")
        if not paragraphs:
            raise click.BadParameter(_("there is nothing to read in TEXT"), param_hint="TEXT")
    tts, audio = (cfg.tts, cfg.audio) if cfg else project_voice
    if engine:
        tts = dataclasses.replace(tts, engines=engines_option(engine))
    audio = dataclasses.replace(audio, format=fmt, repeat=repeat or audio.repeat)
    if no_jingles:
        audio = dataclasses.replace(audio, jingle_in=None, jingle_out=None)
    from broadcaster.text.reading import spoken_paragraphs
    from broadcaster.text.scripts import Script
    spoken = spoken_paragraphs(Script(out, "utf-8", paragraphs), tts.lexicon)
    jingles = Jingles()
    where = cfg.where("audio") if cfg else "defaults"
    speaker = make_speaker(cfg.paths.state if cfg else root / "state", root)
    r = render_audio(spoken, tts, audio, speaker=speaker,
                     jingle_in=jingles.get(audio.jingle_in, audio, where),
                     jingle_out=jingles.get(audio.jingle_out, audio, where),
                     target=out, tags={"title": (text or Path(text_file).stem)[:60],
                                       "date": local_now(cfg).strftime("%Y-%m-%d"), "artist": "broadcaster"})
    click.echo(_("wrote {path}: {duration}, {lufs} LUFS, {peak} dBTP, spoken by {engine} ({label})",
                 path=display_path(out), duration=fmt_duration(audio_duration(out)), lufs=f"{r.loudness_lufs:.1f}",
                 peak=f"{r.true_peak_dbtp:.1f}", engine=r.engine, label=engine_label(r.engine)))


def _voice_settings_despite(error: ConfigError):
    """The [tts] and [audio] settings `say` can use from a schedule.toml that does not load as a
    whole, saying plainly what it uses and what it ignores; the defaults where there is no file."""
    from broadcaster.config import AudioSettings, find_config, load_voice_settings
    try:
        path = find_config(None)
    except ConfigError:
        return TTSSettings(), AudioSettings()  # no project here: the defaults, silently
    shown = display_path(path)
    try:
        tts, audio, ignored = load_voice_settings(path)
    except ConfigError as e:
        warn(_("{file} cannot be read ({error}), so this announcement uses the default voice and sound "
               "settings; fix the file to use its own", file=shown, error=e.message))
        return TTSSettings(), AudioSettings()
    warn(_("{file} does not load ({count} mistakes; run `broadcaster check` to see them), but `say` still uses "
           "its [tts] and [audio] settings", file=shown, count=len(error.problems)))
    for problem in ignored:
        warn(_("ignored, the default is used instead: {problem}", problem=problem))
    return tts, audio
