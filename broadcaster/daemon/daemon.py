"""The playback daemon: the parts a loudspeaker PC runs, started in order and stopped in reverse.

A planner hands the airings of the next seconds to the zones' workers; a worker
prepares an airing a few seconds ahead (file opened and decoding, stream open and
playing silence) so the first sample leaves on time, plays one airing at a time in
priority order and fades out for an urgent one. Every airing is a row in the play log.
Other parts take `play` requests, watch the files for live edits, re-render stale
audio ahead of time and beat the heart that `play` and `status` look for.

Each part is one module (see ``daemon.parts`` for what a part is); ``PARTS`` is the one
place that lists them. A new part is a new module and one line here.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from broadcaster.config import Config, load_config
from broadcaster.errors import BroadcasterError, ConfigError
from broadcaster.fsutil import private_dir, private_file
from broadcaster.i18n import _
from broadcaster.daemon.clock import Clock
from broadcaster.daemon.alerts import Alerts
from broadcaster.daemon.emergencies import Emergencies
from broadcaster.daemon.inbox import Requests
from broadcaster.daemon.live import LiveDesk
from broadcaster.daemon.monitor import Monitors
from broadcaster.daemon.outputs import Outputs
from broadcaster.daemon.parts import Heartbeat, MemoryTrim, Part, PlayLog, StateLock, Timer
from broadcaster.daemon.planner import Planner
from broadcaster.records.playlog import Journal
from broadcaster.daemon.renderer import Renderer
from broadcaster.daemon.watcher import RELOAD_RETRY, Watcher
from broadcaster.daemon.watchdog import Watchdog
from broadcaster.daemon.zones import Zones

log = logging.getLogger("broadcaster.daemon")

# in dependency order: each part may use the ones before it while it starts and stops
PARTS: tuple[type[Part], ...] = (
    StateLock,   # one daemon per state folder
    PlayLog,     # the journal; airings cut off by a crash marked interrupted
    Outputs,     # the zones' sound devices
    Alerts,      # dead air, unexpected sound, a monitor gone: raised, cleared, posted to the webhook
    Monitors,    # each zone's monitor input, against what the zone sent (proof of air)
    Renderer,    # stale audio rendered ahead in a child process; the file an airing plays
    Zones,       # one worker per zone: prepare, start on time, fade, log
    Timer,       # runs the periodic parts below
    Planner,     # the schedule → the zones' workers
    Requests,    # `play` requests → the zones' workers
    Emergencies, # an emergency's rounds, sent on time; its stop carried out
    LiveDesk,    # a voice from this PC (`broadcaster live`, the console) → the zones' workers
    Watcher,     # live edits → reload
    Heartbeat,   # "this daemon is alive", for `play` and `status`
    MemoryTrim,  # freed memory handed back to the system (a cluster's board is small)
    Watchdog,    # systemd told it is ready, then alive while the zones' workers and sound outputs are
)

P = TypeVar("P", bound=Part)


class Daemon:
    """Everything the loudspeaker PC runs."""

    def __init__(self, config_path: Path, *, zones: list[str] | None = None, allow_outside: bool = False,
                 clock: Clock | None = None, parts: tuple[type[Part], ...] = PARTS, cfg: Config | None = None,
                 problem: str | None = None):
        """``cfg``: the configuration to start with (default: ``config_path``'s); ``problem``: why it is not
        ``config_path``'s own (the last good one runs): an alert until the project's own is taken."""
        self.config_path = config_path
        self.allow_outside = allow_outside
        self.cfg: Config = cfg or load_config(config_path, allow_outside=allow_outside)
        self.problem = problem
        self.tz = ZoneInfo(self.cfg.timezone)
        self.clock = clock or Clock(self.tz)
        unknown = [z for z in zones or [] if z not in self.cfg.zones]
        if unknown:
            raise ConfigError(_('zone "{zone}" is not in {file}', zone=unknown[0], file=config_path.name),
                              hint=_("zones defined: {zones}", zones=", ".join(self.cfg.zones) or "-"))
        self.zone_filter = list(zones) if zones else None
        self.stop_event = threading.Event()
        self.parts: list[Part] = [cls(self) for cls in parts]
        self._started: list[Part] = []
        self.reloading = threading.RLock()   # held by a reload, and by the parts that wait for one (waits_for_reload)
        self.exit_status = 0                 # 1: stopped because a part was left in a state nobody planned
        self.restart_with: dict | None = None   # a version to run in this process's place once stopped (an update)

    @property
    def served(self) -> list[str]:
        return self.zone_filter or self.cfg.local_zones()

    @property
    def journal(self) -> Journal:
        return self.get(PlayLog).journal

    def get(self, kind: type[P]) -> P:
        """The running part of this kind."""
        for p in self.parts:
            if isinstance(p, kind):
                return p
        raise LookupError(kind.__name__)

    # --- start and stop ----------------------------------------------------

    def start(self) -> None:
        """Start every part in order; if one fails, stop those already started, in reverse."""
        try:
            for part in self.parts:
                part.start()
                self._started.append(part)
        except BaseException:
            self.stop(quiet=True)
            raise
        self.configuration_problem(self.problem)
        if self.problem is None:
            self.keep_good()
        log.info(_("broadcaster daemon started for zones {zones} (state: {state})", zones=", ".join(self.served),
                   state=self.cfg.paths.state))

    def configuration_problem(self, problem: str | None) -> None:
        """The project's configuration cannot be used (``problem``: file:line and why) and another runs: an
        alert for status, the console, the webhook and the hub above; None: it is used again, cleared."""
        self.problem = problem
        try:
            alerts = self.get(Alerts)
        except LookupError:   # a daemon made of fewer parts: the log says it
            if problem is not None:
                log.error(_("ALERT {zone}: {kind}: {detail}", zone=self.config_path.name,
                            kind=_("configuration cannot be used"), detail=problem))
            return
        if problem is not None:
            alerts.raise_(self.config_path.name, "config", problem)
        else:
            alerts.clear(self.config_path.name, "config", _("the configuration loads again and runs"))

    def keep_good(self) -> None:
        """The configuration that runs now is a good one: kept as the one to start from if the next cannot."""
        from broadcaster.config.lastgood import keep
        try:
            keep(self.cfg, self.clock.now())
        except (BroadcasterError, OSError) as e:
            log.warning(_("the running configuration could not be kept as the last good one: {reason}", reason=e))

    def stop(self, quiet: bool = False) -> None:
        while self._started:
            part = self._started.pop()
            try:
                part.stop()
            except Exception:
                log.exception(_("{job} failed; the daemon keeps going", job=f"{part.name}.stop"))
        if not quiet:
            log.info(_("broadcaster daemon stopped"))

    def run_forever(self) -> int:
        """Run until SIGTERM or SIGINT (Ctrl+C); then end the airings with a short fade. The exit status:
        0, or 1 when it stopped itself (a part left half-reloaded)."""
        def on_signal(signum, _frame):
            log.info(_("signal {signal} received: stopping", signal=signal.Signals(signum).name))
            self.stop_event.set()
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        if hasattr(signal, "SIGBREAK"):  # Ctrl+Break on Windows
            signal.signal(signal.SIGBREAK, on_signal)
        self.start()
        try:
            while not self.stop_event.wait(0.5):
                pass
        finally:
            self.stop()
        return self.exit_status

    def reload(self, cfg: Config) -> bool:
        """A new, valid configuration (or the same one with a script or jingle changed): every part is
        told, in order. All or nothing: when a part cannot take it, the parts that did (and that one) are
        told to go back to the configuration that ran, and it runs on; False. A part that cannot go back
        either leaves the daemon in a state nobody planned: it stops, exit status 1, for its supervisor
        (systemd's Restart=always) to start it afresh, rather than run on half-alive and silent."""
        with self.reloading:
            old, self.cfg = self.cfg, cfg
            told: list[Part] = []
            try:
                for part in self._started:
                    told.append(part)
                    part.reload(old, cfg)
            except Exception:
                log.exception(_("{part} could not take the new configuration; the configuration that ran keeps "
                                "running (tried again in {seconds} s)", part=told[-1].name, seconds=RELOAD_RETRY))
                self.cfg = old
                for part in reversed(told):
                    try:
                        part.reload(cfg, old)
                    except Exception:
                        log.critical(_("{part} could not go back to the configuration that ran: the daemon stops "
                                       "for its supervisor to start it again", part=part.name), exc_info=True)
                        self.exit_status = 1
                        self.stop_event.set()
                        break
                return False
            if cfg != old:
                log.info(_("configuration reloaded"))
            return True


class _PrivateLogFile(RotatingFileHandler):
    """daemon.log and its rotated copies, readable by the owner's group only."""

    def _open(self):
        stream = super()._open()
        private_file(Path(self.baseFilename))
        return stream


def setup_logging(state: Path, verbose: bool = False, tz: ZoneInfo | None = None) -> None:
    """Log lines to stderr (systemd's journal, a console) and to state/daemon.log, their times in the
    station's time zone ``tz`` (the slots' own), whatever the PC's is set to."""
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    if tz is not None:
        fmt.converter = lambda seconds: datetime.fromtimestamp(seconds, tz).timetuple()
    root = logging.getLogger("broadcaster")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for h in list(root.handlers):
        root.removeHandler(h)
    console = logging.StreamHandler()
    console.setFormatter(fmt)
    root.addHandler(console)
    try:
        private_dir(state)
        fh = _PrivateLogFile(state / "daemon.log", maxBytes=2_000_000, backupCount=5, encoding="utf-8")
        fh.setFormatter(fmt)
        root.addHandler(fh)
    except OSError as e:
        root.warning(_("cannot write {path}: {reason}", path=state / "daemon.log", reason=e))
