"""schedule.toml → frozen dataclasses.

Every problem in the file is collected and reported at once, each as
``file:line: section: message``, with "did you mean …?" for misspelt keys.
Relative paths are relative to the file; paths may not leave the project
folder (the folder holding the file) unless ``allow_outside`` is given.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import zoneinfo
from dataclasses import dataclass, field, replace
from datetime import date, time
from pathlib import Path
from typing import Any, Callable

from broadcaster.engines import engine_names
from broadcaster.errors import ConfigError
from broadcaster.tomllines import LineIndex
from broadcaster.i18n import N_, _

DEFAULT_NAME = "schedule.toml"
ENV_VAR = "BROADCASTER_CONFIG"
AUTO_ENGINES = ("edge", "gtts", "piper", "espeak")  # best voice first; the offline ones last
FORMATS = ("mp3", "wav")


@dataclass(frozen=True)
class TTSSettings:
    engines: tuple[str, ...] = AUTO_ENGINES   # preference order; first available wins
    voice: str = "vi"
    rate: float = 1.0
    pitch: float = 0.0       # Hz offset (edge, espeak)
    lexicon: Path | None = None


@dataclass(frozen=True)
class AudioSettings:
    format: str = "mp3"
    sample_rate: int = 44100
    channels: int = 1
    loudness: float = -16.0
    true_peak: float = -1.0
    jingle_in: Path | None = None
    jingle_out: Path | None = None
    gap: float = 1.0
    repeat: int = 2


@dataclass(frozen=True)
class Paths:
    scripts: Path
    audio: Path
    state: Path


@dataclass(frozen=True)
class Bulletin:
    id: str
    title: str
    script: Path
    tts: TTSSettings
    audio: AudioSettings
    line: int | None = None

    def output_path(self, paths: Paths) -> Path:
        return paths.audio / f"{self.id}.{self.audio.format}"

    def sidecar_path(self, paths: Paths) -> Path:
        return paths.audio / f"{self.id}.json"


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    device: str = "default"
    volume: float = 1.0
    quiet: tuple[time, time] | None = None   # no normal/priority airings from [0] to [1]
    line: int | None = None

    def is_quiet(self, at: time) -> bool:
        if self.quiet is None:
            return False
        start, end = self.quiet
        return start <= at < end if start <= end else (at >= start or at < end)


PRIORITIES = ("normal", "priority", "urgent")
PRIORITY_WORDS = {"normal": N_("normal"), "priority": N_("high priority"), "urgent": N_("urgent")}


@dataclass(frozen=True)
class Slot:
    index: int                     # position among [[slots]], from 0
    bulletin: str
    zones: tuple[str, ...]
    at: tuple[time, ...] = ()      # local times, or
    cron: str | None = None        # a 5-field crontab line
    days: str | None = None        # APScheduler day_of_week, with ``at``
    start: date | None = None
    end: date | None = None
    priority: str = "normal"
    line: int | None = None


@dataclass(frozen=True)
class Config:
    path: Path
    root: Path
    timezone: str
    paths: Paths
    tts: TTSSettings
    audio: AudioSettings
    bulletins: dict[str, Bulletin] = field(default_factory=dict)
    zones: dict[str, Zone] = field(default_factory=dict)
    slots: tuple[Slot, ...] = ()
    grace: float = 600.0           # [daemon] grace: seconds an airing may start late after downtime
    allow_outside: bool = False
    lines: LineIndex | None = field(default=None, compare=False, repr=False)  # where each key was written

    def where(self, *key) -> str:
        """``file:line`` of a key, for messages about it."""
        line = self.lines.line(*key) if self.lines else None
        return f"{display_path(self.path)}:{line}" if line else display_path(self.path)

    def where_setting(self, bulletin: str, key: str, section: str) -> str:
        """Where a bulletin's setting was written: its own override, else the [section] default."""
        own = self.where("bulletins", bulletin, key)
        return own if own != self.where("bulletins", bulletin) else self.where(section, key)

    def resolve(self, value: str | os.PathLike) -> Path:
        """A path from the user, relative to the project folder."""
        return _resolve(self.root, value)

    def inside(self, path: Path) -> bool:
        return self.allow_outside or _is_inside(path, self.root)


def display_path(path: Path) -> str:
    """A path as short as a technician would type it."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def find_config(explicit: str | None) -> Path:
    """-c/--config, else $BROADCASTER_CONFIG, else ./schedule.toml."""
    chosen = explicit or os.environ.get(ENV_VAR) or DEFAULT_NAME
    path = Path(chosen)
    if not path.is_file():
        how = (_("given with -c/--config") if explicit else
               _("from ${var}", var=ENV_VAR) if os.environ.get(ENV_VAR) else _("in the current folder"))
        raise ConfigError(_('configuration file "{path}" ({how}) does not exist', path=chosen, how=how),
                          hint=_("run broadcaster from the project folder, or pass -c path/to/schedule.toml"))
    return path


def _resolve(root: Path, value: str | os.PathLike) -> Path:
    p = Path(value).expanduser()
    return (p if p.is_absolute() else root / p).resolve()


def _is_inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


# --- the schema: each key, its type check and conversion -----------------------

class _Invalid(Exception):
    pass


def _str(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _Invalid(_("must be a non-empty text in quotes, not {value}", value=_show(v)))
    return v


def _number(lo: float, hi: float) -> Callable[[Any], float]:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _Invalid(_("must be a number, not {value}", value=_show(v)))
        if not lo <= v <= hi:
            raise _Invalid(_("must be between {low} and {high}, not {value}", low=f"{lo:g}", high=f"{hi:g}", value=f"{v:g}"))
        return float(v)
    return check


def _integer(lo: int, hi: int) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise _Invalid(_("must be a whole number, not {value}", value=_show(v)))
        if not lo <= v <= hi:
            raise _Invalid(_("must be between {low} and {high}, not {value}", low=lo, high=hi, value=v))
        return v
    return check


def _choice(*options: Any) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if v not in options:
            raise _Invalid(_("must be one of {options}, not {value}", options=", ".join(map(str, options)), value=_show(v)))
        return v
    return check


def _engines(v: Any) -> tuple[str, ...]:
    names = [v] if isinstance(v, str) else v
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise _Invalid(_("must be an engine name or a list of them, not {value}", value=_show(v)))
    known = engine_names()
    out: list[str] = []
    for name in names:
        expanded = AUTO_ENGINES if name == "auto" else (name,)
        for n in expanded:
            if n not in known:
                raise _Invalid(_('"{name}" is not a known engine{suggestion} (choose from auto, {names})',
                                 name=n, suggestion=_suggest(n, known), names=", ".join(sorted(known))))
            if n not in out:
                out.append(n)
    return tuple(out)


def _show(v: Any) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return _("a table")
    if isinstance(v, list):
        return _("a list")
    return repr(v)


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return _(' (did you mean "{word}"?)', word=close[0]) if close else ""


_PATH = "path"  # marker: a file path, checked for existence and confinement

TTS_KEYS: dict[str, Any] = {
    "engine": _engines,
    "voice": _str,
    "rate": _number(0.25, 4.0),
    "pitch": _number(-50.0, 50.0),
    "lexicon": _PATH,
}
AUDIO_KEYS: dict[str, Any] = {
    "format": _choice(*FORMATS),
    "sample_rate": _choice(8000, 16000, 22050, 24000, 32000, 44100, 48000),
    "channels": _integer(1, 2),
    "loudness": _number(-40.0, -5.0),
    "true_peak": _number(-12.0, 0.0),
    "jingle_in": _PATH,
    "jingle_out": _PATH,
    "gap": _number(0.0, 30.0),
    "repeat": _integer(1, 20),
}
_FIELD_NAME = {"engine": "engines"}


class _Loader:
    """Collects problems while converting the parsed TOML into settings."""

    def __init__(self, path: Path, index: LineIndex, allow_outside: bool):
        self.path = path
        self.root = path.parent.resolve()
        self.index = index
        self.allow_outside = allow_outside
        self.problems: list[str] = []

    def problem(self, key: tuple, section: str, message: str) -> None:
        line = self.index.line(*key)
        loc = f"{display_path(self.path)}:{line}" if line else display_path(self.path)
        self.problems.append(f"{loc}: {section}: {message}")

    def unknown_keys(self, table: dict, allowed, key: tuple, section: str) -> None:
        for k in table:
            if k not in allowed:
                self.problem(key + (k,), section,
                             _('unknown key "{key}"{suggestion}', key=k, suggestion=_suggest(k, allowed)))

    def file_path(self, value: Any, key: tuple, section: str, name: str, *, must_exist: str | None = "file"):
        try:
            text = _str(value)
        except _Invalid as e:
            self.problem(key, section, f"{name} {e}")
            return None
        p = _resolve(self.root, text)
        if not self.allow_outside and not _is_inside(p, self.root):
            self.problem(key, section, _('{name} "{path}" is outside the project folder {root} '
                                         "(move it inside, or pass --allow-outside)",
                                         name=name, path=text, root=display_path(self.root)))
            return None
        if must_exist == "file" and not p.is_file():
            what = (_('{name} "{path}" is a folder, not a file') if p.is_dir()
                    else _('{name} "{path}" does not exist'))
            self.problem(key, section, what.format(name=name, path=text))
            return None
        return p

    def settings(self, table: dict, keys: dict, base, key: tuple, section: str, *, only=None):
        """Apply the known keys of ``table`` onto the dataclass ``base``."""
        changes = {}
        for k, check in keys.items():
            if k not in table or (only is not None and k not in only):
                continue
            v = table[k]
            if check is _PATH:
                if v in ("", False):  # explicitly none (e.g. a bulletin without the jingle)
                    changes[k] = None
                    continue
                p = self.file_path(v, key + (k,), section, k)
                if p is not None:
                    changes[k] = p
                continue
            try:
                changes[_FIELD_NAME.get(k, k)] = check(v)
            except _Invalid as e:
                self.problem(key + (k,), section, f"{k} {e}")
                continue
            if k == "voice" and v.endswith(".onnx"):  # a Piper model: a file in the project
                model = self.file_path(v, key + (k,), section, "voice model")
                if model is not None and not Path(f"{model}.json").is_file():
                    self.problem(key + (k,), section, _('voice model "{model}" has no "{model}.json" beside it '
                                                     "(download both files of the voice)", model=v))
                changes["voice"] = str(model) if model else v
        return replace(base, **changes)

    def named_tables(self, data: dict, name: str, kind: str, allowed):
        """The [name.ID] tables: (id, table, key, section) for each, after checking shape and keys."""
        for tid, t in self.table(data, name).items():
            section, key = f"{name}.{tid}", (name, tid)
            if not isinstance(t, dict):
                self.problem(key, section, _("must be a table ([{table}]), not {value}", table=f"{name}.{tid}",
                                              value=_show(t)))
                continue
            if not _valid_id(tid):
                self.problem(key, section, _("an id may use only letters a-z, digits, '-' and '_'"))
            self.unknown_keys(t, allowed, key, section)
            yield tid, t, key, section

    def table(self, data: dict, name: str) -> dict:
        v = data.get(name, {})
        if not isinstance(v, dict):
            self.problem((name,), name, _("must be a table ([{table}]), not {value}", table=name, value=_show(v)))
            return {}
        return v


TOP_KEYS = ("timezone", "paths", "tts", "audio", "bulletins", "zones", "slots", "daemon")
BULLETIN_KEYS = ("title", "script", *TTS_KEYS, *AUDIO_KEYS)


def load_config(path: str | os.PathLike, *, allow_outside: bool = False) -> Config:
    """Read and validate a whole schedule.toml; raise one ConfigError listing every problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(_("cannot read the configuration: {reason}", reason=e.strerror), where=display_path(path))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(_("is not UTF-8 text"), where=display_path(path),
                          hint=_("save it as UTF-8 in your editor"))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _syntax_error(path, e) from None
    loader = _Loader(path, LineIndex(text), allow_outside)
    cfg = _build(loader, data)
    if loader.problems:
        raise ConfigError(loader.problems[0], problems=loader.problems)
    return cfg


def _syntax_error(path: Path, e: tomllib.TOMLDecodeError) -> ConfigError:
    # tomllib says "... (at line 3, column 7)"; keep its position in our format
    msg = str(e)
    line = col = None
    if "(at line " in msg:
        msg, pos = msg.rsplit(" (at line ", 1)
        line, _sep, rest = pos.partition(", column ")
        col = rest.rstrip(")")
    where = f"{display_path(path)}:{line}" if line else display_path(path)
    detail = (_("TOML syntax error: {detail} (column {column})", detail=msg, column=col) if col
              else _("TOML syntax error: {detail}", detail=msg))
    return ConfigError(detail, where=where, hint=_("check quotes, brackets and commas on that line"))


def _build(ld: _Loader, data: dict) -> Config:
    ld.unknown_keys(data, TOP_KEYS, (), "schedule")
    tz = data.get("timezone", "Asia/Ho_Chi_Minh")
    try:
        _str(tz)
        zoneinfo.ZoneInfo(tz)
    except (_Invalid, zoneinfo.ZoneInfoNotFoundError, ValueError):
        ld.problem(("timezone",), "timezone",
                   _('{value} is not a known time zone (use a name like "Asia/Ho_Chi_Minh")', value=_show(tz)))
        tz = "Asia/Ho_Chi_Minh"

    ptable = ld.table(data, "paths")
    ld.unknown_keys(ptable, ("scripts", "audio", "state"), ("paths",), "paths")
    dirs = {}
    for k, default in (("scripts", "scripts"), ("audio", "audio_out"), ("state", "state")):
        p = ld.file_path(ptable.get(k, default), ("paths", k), "paths", k, must_exist=None)
        dirs[k] = p if p is not None else ld.root / default
    paths = Paths(**dirs)

    ttable, atable = ld.table(data, "tts"), ld.table(data, "audio")
    ld.unknown_keys(ttable, TTS_KEYS, ("tts",), "tts")
    ld.unknown_keys(atable, AUDIO_KEYS, ("audio",), "audio")
    tts = ld.settings(ttable, TTS_KEYS, TTSSettings(), ("tts",), "tts")
    audio = ld.settings(atable, AUDIO_KEYS, AudioSettings(), ("audio",), "audio")

    bulletins = {}
    btable = ld.table(data, "bulletins")
    for bid, b, key, section in ld.named_tables(data, "bulletins", "bulletin", BULLETIN_KEYS):
        if "script" not in b:
            ld.problem(key, section, _('has no script (add script = "scripts/NAME.txt")'))
            continue
        script = ld.file_path(b["script"], key + ("script",), section, "script")
        title = b.get("title", bid)
        try:
            _str(title)
        except _Invalid as e:
            ld.problem(key + ("title",), section, f"title {e}")
        btts = ld.settings(b, TTS_KEYS, tts, key, section)
        baudio = ld.settings(b, AUDIO_KEYS, audio, key, section)
        if script is not None:
            bulletins[bid] = Bulletin(bid, str(title), script, btts, baudio, ld.index.line(*key))
    if not btable:
        ld.problem(("bulletins",), "bulletins",
                   _("no bulletins are defined (add a [bulletins.NAME] table with a script)"))

    from broadcaster.config_slots import parse_daemon, parse_slots, parse_zones  # they build on this module
    zones = parse_zones(ld, data)
    slots = parse_slots(ld, data, btable, zones)
    grace = parse_daemon(ld, data)
    return Config(path=ld.path.resolve(),
                  root=ld.root, timezone=tz, paths=paths, tts=tts, audio=audio,
                  bulletins=bulletins, zones=zones, slots=tuple(slots), grace=grace,
                  allow_outside=ld.allow_outside, lines=ld.index)


def _valid_id(bid: str) -> bool:
    return bool(bid) and all(c.isascii() and (c.isalnum() or c in "-_") for c in bid)
