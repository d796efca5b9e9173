"""schedule.toml → a Config.

Every problem in the file is collected and reported at once, each as
``file:line: section: message``, with "did you mean …?" for misspelt keys.
Relative paths are relative to the file; paths may not leave the project
folder (the folder holding the file) unless ``allow_outside`` is given.
"""

from __future__ import annotations

import os
import tomllib
import zoneinfo
from pathlib import Path

from broadcaster.config.model import AudioSettings, Config, Paths, TTSSettings, Zone, display_path
from broadcaster.config.schema import AUDIO_KEYS, TTS_KEYS, _Invalid, _Loader, _show, _str
from broadcaster.config.bulletins import parse_bulletins
from broadcaster.config.fleet import merge_programme, parse_fleet, programme_path
from broadcaster.config.monitor import parse_monitor, parse_web
from broadcaster.config.calendar import parse_calendar, parse_changes
from broadcaster.config.places import parse_groups
from broadcaster.config.sources import parse_sources
from broadcaster.config.slots import parse_daemon, parse_slots, parse_zones
from broadcaster.errors import ConfigError
from broadcaster.i18n import _
from broadcaster.tomllines import LineIndex

DEFAULT_NAME = "schedule.toml"
ENV_VAR = "BROADCASTER_CONFIG"


def _hub_tables(path: Path) -> tuple[dict, dict]:
    """The bulletins and zones of the hub's installed programme, by id (for this station's own slots)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}, {}
    b, z = data.get("bulletins", {}), data.get("zones", {})
    return (b if isinstance(b, dict) else {}), (z if isinstance(z, dict) else {})


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


TOP_KEYS = ("timezone", "paths", "tts", "audio", "bulletins", "sources", "zones", "slots", "daemon", "fleet", "approval",
            "monitor", "alerts", "web", "groups", "calendar", "changes", "live")


def load_config(path: str | os.PathLike, *, allow_outside: bool = False, programme: Path | None = None,
                root: Path | None = None) -> Config:
    """Read and validate a whole schedule.toml; raise one ConfigError listing every problem.

    At a station, the hub's installed programme is merged in (``programme`` reads another
    file in its place: a new programme is checked so before it is installed). ``root``: the project
    folder, when the file is a copy kept elsewhere (the last good configuration)."""
    path = Path(path)
    text, data = _read(path)
    loader = _Loader(path, LineIndex(text), allow_outside, root)
    cfg = _build(loader, data, programme)
    if loader.problems:
        raise ConfigError(loader.problems[0], problems=loader.problems)
    return cfg


def load_voice_settings(path: str | os.PathLike) -> tuple[TTSSettings, AudioSettings, list[str]]:
    """Only the [tts] and [audio] settings of a schedule.toml that may have mistakes elsewhere
    (for `say`): the valid values, and the mistakes in those two sections (their values are left
    at the defaults). Raises ConfigError when the file cannot be read as TOML at all."""
    path = Path(path)
    text, data = _read(path)
    ld = _Loader(path, LineIndex(text), False)
    tts, audio = _voice_sections(ld, data)
    return tts, audio, ld.problems


def _voice_sections(ld: _Loader, data: dict) -> tuple[TTSSettings, AudioSettings]:
    ttable, atable = ld.table(data, "tts"), ld.table(data, "audio")
    ld.unknown_keys(ttable, TTS_KEYS, ("tts",), "tts")
    ld.unknown_keys(atable, AUDIO_KEYS, ("audio",), "audio")
    tts = ld.settings(ttable, TTS_KEYS, TTSSettings(), ("tts",), "tts")
    audio = ld.settings(atable, AUDIO_KEYS, AudioSettings(), ("audio",), "audio")
    return tts, audio


def _read(path: Path) -> tuple[str, dict]:
    """The file's text and its TOML, or a ConfigError saying why it cannot be read."""
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
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _syntax_error(path, e) from None


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


def _build(ld: _Loader, data: dict, programme: Path | None = None) -> Config:
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

    tts, audio = _voice_sections(ld, data)

    btable = ld.table(data, "bulletins")
    bulletins = parse_bulletins(ld, data, tts, audio)
    fleet = parse_fleet(ld, data)   # a project with no bulletins is fine: a commune may only relay (see check)

    zones = parse_zones(ld, data)
    groups, group_names = parse_groups(ld, data, zones)
    sources = parse_sources(ld, data, bulletins)
    # a station may put its hub's bulletins in its own slots (a province programme in the commune's own
    # time), at normal priority only: the hub's own slots for them stay as the hub sent them (NĐ49)
    above, above_zones = (_hub_tables(programme or paths.state / "fleet" / "programme.toml") if fleet and fleet.station
                          else ({}, {}))
    hub_zones = {z: Zone(z, z, origin="hub") for z in above_zones if z not in zones}
    slots = parse_slots(ld, data, {**above, **btable}, {**hub_zones, **zones}, sources=sources, groups=groups)
    for i, slot in enumerate(slots):
        theirs = [b for b in slot.sequence if b in above and b not in btable]
        if theirs and slot.priority != "normal":
            ld.problem(("slots", slot.index, "priority"), f"slots[{slot.index + 1}]",
                       _("{bulletin} is the hub's bulletin: this station may schedule it in its own slots at "
                         "normal priority only (the hub sends its priority and urgent airings itself)",
                         bulletin=theirs[0]))
    grace = parse_daemon(ld, data)
    monitor, alerts = parse_monitor(ld, data)
    approval = ld.table(data, "approval")
    live = ld.table(data, "live")
    ld.unknown_keys(live, ("chime",), ("live",), "live")
    chime = ld.file_path(live["chime"], ("live", "chime"), "live", "chime") if "chime" in live else None
    ld.unknown_keys(approval, ("required",), ("approval",), "approval")
    if not isinstance(approval.get("required", False), bool):
        ld.problem(("approval", "required"), "approval", _("required must be true or false, not {value}",
                                                           value=_show(approval["required"])))
    cfg = Config(path=ld.path.resolve(),
                 root=ld.root, timezone=tz, paths=paths, tts=tts, audio=audio,
                 bulletins=bulletins, zones=zones, slots=tuple(slots), sources=sources, grace=grace,
                 allow_outside=ld.allow_outside, fleet=fleet, approval_required=approval.get("required") is True,
                 monitor=monitor, alerts=alerts, web=parse_web(ld, data), groups=groups, group_names=group_names, live_chime=chime,
                 skip=parse_calendar(ld, data), changes=parse_changes(ld, data, bulletins, zones),
                 lines=ld.index)
    if fleet and fleet.station and not ld.problems:
        cfg = merge_programme(ld, cfg, programme or programme_path(cfg))
    return cfg
