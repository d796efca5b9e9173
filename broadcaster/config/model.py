"""What a schedule.toml says, as frozen dataclasses: settings, bulletins, zones, slots."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path

from broadcaster.tomllines import LineIndex
from broadcaster.i18n import N_, _

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
    script: Path | None            # the text to render, or
    tts: TTSSettings
    audio: AudioSettings
    line: int | None = None
    file: Path | None = None       # ready-made audio (a recording, or the hub's rendered bulletin)
    origin: str = "local"          # "local", or "hub" for what came in the hub's programme

    @property
    def rendered(self) -> bool:
        """Its audio is made from a script here (not a ready-made file)."""
        return self.file is None

    def output_path(self, paths: Paths) -> Path:
        return self.file if self.file is not None else paths.audio / f"{self.id}.{self.audio.format}"

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
    station: str | None = None     # the station (PC) below that plays it, in a hub's project
    origin: str = "local"
    monitor: str | None = None     # a sound input hearing what the loudspeakers got (proof of air)
    village: str | None = None     # the village its loudspeakers are in
    aliases: tuple[str, ...] = ()  # other names people and scripts use (the pre-2025 commune and village names)
    position: tuple[float, float] | None = None   # (lat, lon) in degrees
    kind: str = "ip"               # ip (an IP/4G receiver), wired or fm

    def is_quiet(self, at: time) -> bool:
        if self.quiet is None:
            return False
        start, end = self.quiet
        return start <= at < end if start <= end else (at >= start or at < end)

    def quiet_hours(self) -> str:
        """Its quiet hours as written, "22:00-05:00" ("" when it has none)."""
        return "-".join(t.strftime("%H:%M") for t in self.quiet) if self.quiet else ""


# every date broadcaster takes, wherever it is read (a slot, a holiday, a change, a report, a command's --from);
# outside it a date is refused where it is read (docs/configuration.md), so no part meets year 1 or 9999
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)


def day_in_range(d: date) -> bool:
    return FIRST_DAY <= d <= LAST_DAY


def out_of_range(key: str, d: date, lang: str | None = None) -> str:
    """What is said of a date outside FIRST_DAY..LAST_DAY."""
    return _("{key} {value} is outside the dates broadcaster takes ({first} to {last})", lang, key=key,
             value=d.isoformat(), first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat())


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
    origin: str = "local"
    source: str | None = None      # a relay slot: the [sources.ID] it carries (``bulletin`` is that id too)
    duration: float | None = None  # a relay's length in seconds, or
    until: time | None = None      # the local time it ends
    then: tuple[str, ...] = ()     # a sequence: the bulletins played after ``bulletin``, one after the other
    timezone: str | None = None    # the zone its times are in, when not the configuration's (the hub's programme)
    exceptions: frozenset = frozenset()   # dates it does not play (its ``except``)
    gap: float = 0.0               # seconds between the bulletins of a sequence
    weeks: int = 1                 # every N weeks, counted from the week of ``start``
    monthly: str | None = None     # APScheduler's day field, with ``at``: "2nd sun", "last fri", "1,15"

    def on_week(self, day: date) -> bool:
        """Whether ``day`` falls in a week this slot plays (every ``weeks`` weeks from ``start``'s)."""
        if self.weeks == 1 or self.start is None:
            return True
        first = self.start - timedelta(days=self.start.weekday())
        return (day - first).days // 7 % self.weeks == 0

    @property
    def sequence(self) -> tuple[str, ...]:
        """The bulletins this slot plays, in order (one, unless it names a sequence)."""
        return () if self.source else (self.bulletin, *self.then)

    def relay_end(self, begins):
        """When a relay that begins at ``begins`` (an aware datetime) ends; None for a bulletin slot."""
        if self.source is None:
            return None
        if self.duration is not None:
            return begins + timedelta(seconds=self.duration)
        end = begins.replace(hour=self.until.hour, minute=self.until.minute, second=self.until.second, microsecond=0)
        return end if end > begins else end + timedelta(days=1)


@dataclass(frozen=True)
class Source:
    """[sources.ID]: a programme relayed live (tiếp sóng): a web stream or a line-in."""
    id: str
    title: str
    url: str | None = None         # Icecast/Shoutcast HTTP stream or HLS playlist, or
    device: str | None = None      # a sound card input (an FM receiver on the line-in)
    timeout: float = 8.0           # seconds without sound (or without data) before the fallback
    fallback: str | None = None    # a bulletin id, or
    fallback_file: Path | None = None   # an audio file
    line: int | None = None


@dataclass(frozen=True)
class MonitorSettings:
    """[monitor]: how the zones' monitor inputs are judged."""
    silence: float = -40.0          # dBFS: quieter than this is silence
    dead_air: float = 10.0          # seconds of silence during an airing before the alarm
    unexpected: bool = False        # alarm on sound while nothing is scheduled (off: microphones in noisy yards)
    unexpected_level: float = -30.0  # dBFS: louder than this counts as sound, for that alarm
    unexpected_after: float = 5.0   # seconds of such sound before the alarm
    margin: float = 5.0             # seconds after an airing before sound on the line is unexpected


@dataclass(frozen=True)
class WebSettings:
    """[web]: the console."""
    keep_uploads: float = 30 * 86400   # seconds an uploaded recording is kept once the play log no longer needs it


@dataclass(frozen=True)
class AlertSettings:
    """[alerts]: where alerts go besides the log, `status`, the console and the hub above."""
    webhook: str | None = None      # JSON POSTed on every alert raised and cleared


@dataclass(frozen=True)
class FleetSettings:
    """[fleet]: this node in the network. Any node may be a station of the hub above it (``station`` and
    ``credentials``) and a hub of the stations below it (its zones that name a ``station``): a commune
    is a station of its province and the hub of its loudspeaker clusters; a cluster only a station."""
    server: str                           # the message server(s), comma-separated (a cluster: every node)
    station: str | None = None            # this node's id as a station of the hub above; None at the top
    credentials: Path | None = None       # the file the hub above wrote for this station
    devices: tuple[tuple[str, str], ...] = ()   # hub's zone id → this PC's device name
    line: int | None = None
    monitors: tuple[tuple[str, str], ...] = ()  # hub's zone id → this PC's monitor input
    id: str | None = None                 # [fleet] id: this node's name as a hub (default: its station id, or "hub")

    @property
    def is_station(self) -> bool:
        """This node takes programmes and commands from a hub above it."""
        return self.station is not None

    @property
    def name(self) -> str:
        """This node's name as a hub: its account on the message server and the signer of what it sends down."""
        return self.id or self.station or "hub"

    @property
    def servers(self) -> list[str]:
        return [s.strip() for s in self.server.split(",") if s.strip()]


ORIGIN_WORDS = {"local": N_("local"), "hub": N_("hub")}
HUB_SLOTS = 100_000   # the slots of the hub's programme are numbered from here in the play log


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
    sources: dict[str, Source] = field(default_factory=dict)
    grace: float = 600.0           # [daemon] grace: seconds an airing may start late after downtime
    allow_outside: bool = False
    fleet: FleetSettings | None = None
    approval_required: bool = False   # [approval] required: only approved script versions air
    live_chime: Path | None = None    # [live] chime: played before a live voice
    monitor: MonitorSettings = MonitorSettings()
    alerts: AlertSettings = AlertSettings()
    web: WebSettings = WebSettings()
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)   # [groups]: name → zone ids
    group_names: dict[str, str] = field(default_factory=dict)           # group id → the name people read
    skip: frozenset = frozenset()  # [calendar] skip: dates with no normal airings (public holidays)
    changes: tuple = ()            # [[changes]]: single airings moved or cancelled (config.calendar.Change)
    programme: dict | None = None  # the hub's programme merged in: {"version": …, "published": …}
    lines: LineIndex | None = field(default=None, compare=False, repr=False)  # where each key was written

    def where(self, *key) -> str:
        """``file:line`` of a key, for messages about it."""
        line = self.lines.line(*key) if self.lines else None
        return f"{display_path(self.path)}:{line}" if line else display_path(self.path)

    def where_setting(self, bulletin: str, key: str, section: str) -> str:
        """Where a bulletin's setting was written: its own override, else the [section] default."""
        own = self.where("bulletins", bulletin, key)
        return own if own != self.where("bulletins", bulletin) else self.where(section, key)

    def title_of(self, programme: str) -> str:
        """The title of a bulletin or a relayed source."""
        b = self.bulletins.get(programme)
        if b is not None:
            return b.title
        s = self.sources.get(programme)
        return s.title if s is not None else programme

    def stations(self) -> list[str]:
        """The stations below this node (named by its zones), in order; none on a node that is no hub."""
        return list(dict.fromkeys(z.station for z in self.zones.values() if z.station))

    def group_name(self, group: str) -> str:
        """What a person reads for a group: its display name, else its id."""
        return self.group_names.get(group, group)

    def zone_name(self, zone: str) -> str:
        """What a person reads for a zone (a cluster): its name, else its id."""
        z = self.zones.get(zone)
        return (z.name or zone) if z is not None else zone

    def zones_of(self, station: str) -> list[str]:
        """The zones the station ``station`` below this node plays."""
        return [z for z, zone in self.zones.items() if zone.station == station]

    @property
    def is_hub(self) -> bool:
        """This node sends programmes and commands down to stations and collects their play logs."""
        return self.fleet is not None and bool(self.stations())

    def local_zones(self) -> list[str]:
        """The zones this PC plays: all but those a station below it serves."""
        return [z for z, zone in self.zones.items() if not zone.station]

    def resolve(self, value: str | os.PathLike) -> Path:
        """A path from the user, relative to the project folder."""
        return resolve_path(self.root, value)

    def inside(self, path: Path) -> bool:
        return self.allow_outside or is_inside(path, self.root)


def display_path(path: Path) -> str:
    """A path as short as a technician would type it."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def resolve_path(root: Path, value: str | os.PathLike) -> Path:
    p = Path(value).expanduser()
    return (p if p.is_absolute() else root / p).resolve()


def is_inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


