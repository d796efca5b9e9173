"""What the commands share: the context with the lazily loaded config, and small helpers."""

from __future__ import annotations

import dataclasses
import re
import shutil
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from broadcaster.config import AUTO_ENGINES, Config, day_in_range, display_path, find_config, load_config
from broadcaster.config.model import out_of_range
from broadcaster.engines import engine_names
from broadcaster.errors import ConfigError
from broadcaster.i18n import N_, _


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
    status_line(None)
    click.secho(f"{_('warning')}: {message}", fg="yellow", err=True)


def status_line(text: str | None) -> None:
    """What is being done now, redrawn in place on a terminal (None clears it); nothing in a pipe."""
    if sys.stderr.isatty():
        width = shutil.get_terminal_size().columns - 1
        click.echo("\r\033[K" + (text or "")[:width], nl=False, err=True)


def engines_option(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names: list[str] = []
    for part in value.split(","):
        part = part.strip()
        for n in (AUTO_ENGINES if part == "auto" else (part,)):
            if n not in engine_names():
                raise click.BadParameter(_('"{name}" is not an engine; choose from auto, {names}', name=n,
                                           names=", ".join(sorted(engine_names()))), param_hint="--engine")
            if n not in names:
                names.append(n)
    return tuple(names)


ENGINE_HELP = N_("speak with this engine: auto, edge, gtts, piper, espeak (or a list: gtts,espeak)")


def progress(items, label: str, show=None):
    """A progress bar on a terminal; nothing when output goes to a file or a pipe."""
    if not sys.stderr.isatty():
        yield from items
        return
    with click.progressbar(items, label=label, file=sys.stderr, item_show_func=show) as bar:
        yield from bar


def local_now(cfg: Config | None) -> datetime:
    return datetime.now(ZoneInfo(cfg.timezone)) if cfg else datetime.now().astimezone()


def make_speaker(state: Path, root: Path):
    from broadcaster.render.speech import SentenceCache, Speaker
    return Speaker(SentenceCache(state / "cache"), warn=warn, root=root)


def fmt_duration(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def engine_label(name: str) -> str:
    from broadcaster.render.speech import ENGINE_LABELS
    return _(ENGINE_LABELS[name]) if name in ENGINE_LABELS else name


def config_lexicon(obj: Context) -> Path | None:
    """The project's lexicon when there is a readable config here; else none."""
    try:
        return obj.config().tts.lexicon
    except ConfigError:
        if obj.config_option:
            raise
        return None


def require_known(kind: str, names, cfg: Config, hint: str | None = None, known=None) -> None:
    """ConfigError for the first zone, bulletin, group or station id in ``names`` that the config does not have."""
    from broadcaster.dispatch.play import unknown
    message = unknown(kind, names, cfg, known)
    if message is not None:
        raise ConfigError(message, hint=hint)


_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_day(value: str, option: str) -> date:
    """A day as 2020-08-05 or as Vietnamese write it, 05/8/2020."""
    m = _DMY.match(value.strip())
    try:
        d = date(int(m.group(3)), int(m.group(2)), int(m.group(1))) if m else date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(_('"{value}" is not a date like 2020-08-05 or 05/8/2020', value=value),
                                 param_hint=option) from None
    if not day_in_range(d):
        raise click.BadParameter(out_of_range(option, d), param_hint=option)
    return d


# a date and a time as the program writes them ("17:00 ngày 05/8/2020", "2020-08-05 17:00") or people do
# ("15/12/2026 06:00"): the day and the clock, in either order, "ngày" between them or not
_DAY_CLOCK = (re.compile(r"^(?P<day>\S+)\s+(?:lúc\s+)?(?P<clock>\d{1,2}[:h]\d{2}(?::\d{2})?)$", re.I),
              re.compile(r"^(?P<clock>\d{1,2}[:h]\d{2}(?::\d{2})?)\s+(?:ngày\s+)?(?P<day>\S+)$", re.I))


def parse_from(value: str | None, cfg: Config, hint: str = "--from") -> datetime:
    """A date (2020-08-05 or 05/8/2020: its midnight) or a date and time (2020-08-05T05:00, or any way
    the program itself writes one: "05:00 ngày 05/8/2020", "2020-08-05 05:00"), in the config's time zone."""
    tz = ZoneInfo(cfg.timezone)
    if value is None:
        return local_now(cfg)
    text = " ".join(value.split())
    if _DMY.match(text):
        return datetime.combine(parse_day(text, hint), datetime.min.time(), tz)
    for pattern in _DAY_CLOCK:
        m = pattern.match(text)
        if m and (_DMY.match(m["day"]) or re.match(r"^\d{4}-\d{2}-\d{2}$", m["day"])):
            h, mi, *s = (int(x) for x in re.split(r"[:h]", m["clock"].lower()))
            try:
                clock = datetime.min.time().replace(hour=h, minute=mi, second=s[0] if s else 0)
            except ValueError:
                break
            return datetime.combine(parse_day(m["day"], hint), clock, tz)
    try:
        t = datetime.fromisoformat(value.replace(" ", "T"))
    except ValueError:
        raise click.BadParameter(_('"{value}" is not a date and time like 2020-08-05 or 2020-08-05T05:00',
                                   value=value), param_hint=hint) from None
    if not day_in_range(t.date()):
        raise click.BadParameter(out_of_range(hint, t.date()), param_hint=hint)
    return t if t.tzinfo else t.replace(tzinfo=tz)


def play_to_end(pb, lead: float = 0.2) -> str:
    """Start ``pb`` and show where it is until it ends: 'played', 'interrupted' (Ctrl+C) or 'failed'.

    On a terminal the progress line is redrawn in place; into a file or pipe, a line is
    written every 10 seconds of audio and at the end.
    """
    import time
    tty = sys.stderr.isatty()
    pb.start_at(time.time() + lead)
    shown = -10.0
    status = "played"
    try:
        while not pb.wait(0.25):
            pos = pb.position()
            if tty:
                click.echo(f"\r{_progress_line(pos, pb.duration)}", nl=False, err=True)
            elif pos - shown >= 10.0:
                click.echo(_progress_line(pos, pb.duration), err=True)
                shown = pos
    except KeyboardInterrupt:
        pb.fade_out(0.3)
        pb.wait(2)
        status = "interrupted"
    finally:
        pos = pb.position() if status == "interrupted" else pb.duration
        click.echo(("\r" if tty else "") + _progress_line(pos, pb.duration), err=True)
        pb.close()
    if pb.feeder.error or pb.error:
        return "failed"
    return status


def _progress_line(position: float, duration: float, width: int = 30) -> str:
    done = int(width * position / duration) if duration else width
    return f"▶ {fmt_duration(position)} / {fmt_duration(duration)}  {'━' * done}{'─' * (width - done)}"


def project_path(obj: Context, value: str, option: str, root: Path | None = None) -> Path:
    """A path from the command line, resolved (symlinks too) and kept inside the project folder.

    The project folder is the config's, else the current folder; --allow-outside lifts the rule.
    """
    if root is None:
        try:
            root = obj.config().root
        except ConfigError:
            if obj.config_option:
                raise
            root = Path.cwd().resolve()
    path = Path(value).expanduser()
    path = (path if path.is_absolute() else Path.cwd() / path).resolve()
    if not obj.allow_outside and not path.is_relative_to(root.resolve()):
        raise ConfigError(_('{option} "{path}" is outside the project folder {root}', option=option, path=value,
                            root=display_path(root)),
                          hint=_("move it inside, or pass --allow-outside"))
    return path
