"""What will be said and who can say it: `normalize` and `voices`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from broadcaster.commands.common import Context, config_lexicon, project_path, warn
from broadcaster.config import display_path
from broadcaster.errors import ConfigError
from broadcaster.i18n import N_, _

@click.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--explain", is_flag=True, help=N_("show each rewrite and the rule or lexicon entry that made it"))
@click.option("--lexicon", type=click.Path(dir_okay=False), help=N_("a project lexicon (default: the config's)"))
@click.pass_obj
def normalize(obj: Context, file: str | None, explain: bool, lexicon: str | None) -> None:
    """Print what will be read aloud: one spoken line per line of FILE (or standard input)."""
    from broadcaster.text.scripts import decode_text
    from broadcaster.text.textnorm import Normalizer, load_lexicon
    lex_path = project_path(obj, lexicon, "--lexicon") if lexicon else config_lexicon(obj)
    norm = Normalizer(load_lexicon(lex_path))
    if file:
        try:
            data = project_path(obj, file, "FILE").read_bytes()
        except OSError as e:
            raise ConfigError(_("cannot read {what}: {reason}", what=file, reason=e.strerror)) from None
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
            tag = _("lexicon") + r.rule[len("lexicon"):] if r.rule.startswith("lexicon: ") else _(r.rule)
            out.write(f"    {r.original}  →  {r.spoken}   [{tag}]\n")


def _root(obj: Context) -> Path:
    try:
        return obj.config().root
    except ConfigError:
        if obj.config_option:
            raise
        return Path.cwd()


@click.group(invoke_without_command=True)
@click.pass_context
def voices(ctx: click.Context) -> None:
    """Every TTS engine: whether it can be used here (and why not), its Vietnamese voices, and the
    Piper voices that can be installed (`voices install NAME`)."""
    if ctx.invoked_subcommand is not None:
        return
    from broadcaster.engines import create_engine, engine_names
    from broadcaster.errors import BroadcasterError as _Err
    root = _root(ctx.obj)
    options = {"piper": {"voices_dir": root / "voices"}}
    for name in sorted(engine_names()):
        try:
            eng = create_engine(name, **options.get(name, {}))
            reason = eng.unavailable_reason()
            found = eng.voices()
        except _Err as e:
            reason, found = e.message, []
        kind = _("online") if getattr(eng, "online", False) else _("offline")
        state = (click.style(_("available"), fg="green") if reason is None
                 else click.style(_("not available: {reason}", reason=reason), fg="yellow"))
        click.echo(f"{name} ({kind}): {state}")
        for v in found:
            shown = display_path(Path(v.id)) if v.id.endswith(".onnx") else v.id
            click.echo(f"    {shown:<36} " + _("accent: {accent}  voice: {gender}", accent=f"{_(v.accent):<10}",
                                                  gender=_(v.gender)))
    _list_installable(root / "voices")


def _list_installable(folder: Path) -> None:
    from broadcaster.engines.piper_catalog import VoiceInstallError, base_url, catalogue
    click.echo()
    try:
        published, saved_at, why = catalogue(folder)
    except VoiceInstallError as e:
        click.echo(_("Piper voices to install: {reason}.", reason=e.message))
        click.echo("    " + _("With the internet: broadcaster voices install NAME. Without: copy NAME.onnx and "
                              "NAME.onnx.json from a USB stick with broadcaster voices install FILE.onnx"))
        return
    if saved_at:
        click.echo(_("Piper voices to install (the list saved on {date}; it cannot be fetched now: {reason}):",
                     date=saved_at[:10], reason=why))
    else:
        click.echo(_("Piper voices to install (from {url}):", url=base_url()))
    for v in published:
        installed = (folder / f"{v.name}.onnx").is_file()
        notes = "; ".join(v.restrictions())
        click.echo(f"    {v.name:<28} {v.size / 1e6:6.1f} MB  {v.quality:<7} "
                   + _("licence of its data: {licence}", licence=v.licence or "?")
                   + (click.style(f" ({notes})", fg="yellow") if notes else "")
                   + (click.style("  [" + _("installed") + "]", fg="green") if installed else ""))
    click.echo("    " + _("install one: broadcaster voices install NAME (it is then used offline before espeak-ng)"))


@voices.command("install")
@click.argument("voice")
@click.option("--accept-licence", is_flag=True,
              help=N_("accept a licence that restricts use (non-commercial, share-alike) without asking"))
@click.pass_obj
def voices_install(obj: Context, voice: str, accept_licence: bool) -> None:
    """Install a Vietnamese Piper voice: VOICE is a name from `broadcaster voices` (downloaded, its size
    and SHA-256 checked, resumed when run again) or a FILE.onnx with its .json beside it (from a USB stick)."""
    from broadcaster.engines import piper_catalog as pc
    folder = _root(obj) / "voices"
    if voice.endswith(".onnx") and Path(voice).exists():
        saved = pc.saved_catalogue(folder)
        model, entry = pc.install_file(Path(voice), folder, saved[0] if saved else [],
                                       confirm=lambda e: _confirm_licence(e, accept_licence))
        checked = _(" (size and SHA-256 checked)") if entry else ""
    else:
        published, _saved_at, _why = pc.catalogue(folder)
        entry = pc.find(published, voice)
        _confirm_licence(entry, accept_licence)
        click.echo(_("downloading {name} ({size} MB) from {url}", name=entry.name, size=f"{entry.size / 1e6:.1f}",
                     url=pc.base_url()))
        with click.progressbar(length=entry.size, label=entry.name, file=sys.stderr) as bar:
            model = pc.download(entry, folder, lambda have, _total: bar.update(have - bar.pos))
        checked = _(" (size and SHA-256 checked)")
    click.echo(_("installed {path}{checked}. `auto` now speaks with it offline before espeak-ng; to choose it "
                 'yourself: voice = "{voice}" under [tts]', path=display_path(model), checked=checked,
                 voice=f"voices/{model.name}"))


def _confirm_licence(entry, accept: bool) -> None:
    from broadcaster.engines.piper_catalog import VoiceInstallError
    limits = entry.restrictions()
    if not limits:
        return
    click.echo(click.style(_("{name} was trained on data under the licence {licence}: {limits}.",
                             name=entry.name, licence=entry.licence or "?", limits="; ".join(limits)), fg="yellow"))
    if accept:
        return
    if not sys.stdin.isatty():
        raise VoiceInstallError(_("{name} was not installed: its licence must be accepted first", name=entry.name),
                                hint=_("read the licence, then run the command again with --accept-licence"))
    if not click.confirm(_("Is your use of it allowed by that licence?"), default=False):
        raise VoiceInstallError(_("{name} was not installed", name=entry.name),
                                hint=_("choose a voice whose licence allows your use: broadcaster voices"))
