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
            out.write(f"    {r.original}  →  {r.spoken}   [{r.rule}]\n")


@click.command()
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
        kind = _("online") if getattr(eng, "online", False) else _("offline")
        state = (click.style(_("available"), fg="green") if reason is None
                 else click.style(_("not available: {reason}", reason=reason), fg="yellow"))
        click.echo(f"{name} ({kind}): {state}")
        for v in found:
            shown = display_path(Path(v.id)) if v.id.endswith(".onnx") else v.id
            click.echo(f"    {shown:<36} " + _("accent: {accent}  voice: {gender}", accent=f"{_(v.accent):<10}",
                                                  gender=_(v.gender)))
        if name == "piper" and not found:
            click.echo("    " + _("(put NAME.onnx and NAME.onnx.json in {folder}; see README)",
                                      folder=display_path(root / "voices")))
