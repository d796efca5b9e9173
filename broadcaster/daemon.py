"""The playback daemon: scheduler, zone players and play log, wired together.

A planner (an APScheduler interval job) asks the schedule model for the airings
of the next seconds and hands each to its zone's worker. A worker prepares an
airing a few seconds ahead (file opened and decoding, stream open and playing
silence) so the first sample leaves on time; it plays one airing at a time, in
priority order, and fades out for an urgent one. Every airing is a row in the
play log. Other jobs watch the files for live edits, take `play` requests,
re-render stale audio ahead of time, and beat the heart that `play` and
`status` look for.
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
import os
import queue
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from broadcaster.config import load_config
from broadcaster.errors import ConfigError, PlaybackError
from broadcaster.fsutil import private_dir, private_file, sha256_unchanged
from broadcaster.playlog import Journal
from broadcaster.schedule import airings
from broadcaster.zones import LATE_AFTER, LEAD, Clock, Item, ZoneWorker
from broadcaster.sidecar import read_sidecar
from broadcaster.i18n import LANGUAGES, N_, _, gettext, language, when

log = logging.getLogger("broadcaster.daemon")

LOOKAHEAD = 10.0      # seconds of the schedule planned ahead
RENDER_TIMEOUT = 1800  # seconds for a child `broadcaster build` of one bulletin
JUMP = 5.0            # wall clock and monotonic clock disagreeing by this much is a clock jump
JUMPED_FORWARD = N_("the system clock jumped forward by {seconds} s")
AUDIO_SUFFIXES = (".mp3", ".wav", ".flac", ".ogg")


class Daemon:
    """Everything the loudspeaker PC runs, started in dependency order and stopped in reverse."""

    def __init__(self, config_path: Path, *, zones: list[str] | None = None, allow_outside: bool = False,
                 clock: Clock | None = None):
        self.config_path = config_path
        self.allow_outside = allow_outside
        self.cfg = load_config(config_path, allow_outside=allow_outside)
        self.tz = ZoneInfo(self.cfg.timezone)
        self.clock = clock or Clock(self.tz)
        unknown = [z for z in zones or [] if z not in self.cfg.zones]
        if unknown:
            raise ConfigError(_('zone "{zone}" is not in {file}', zone=unknown[0], file=config_path.name),
                              hint=_("zones defined: {zones}", zones=", ".join(self.cfg.zones) or "-"))
        self.zone_filter = list(zones) if zones else None
        self.journal: Journal | None = None
        self.workers: dict[str, ZoneWorker] = {}
        self.devices: dict[str, int] = {}
        self.planned: set[tuple] = set()
        self.planned_until: float | None = None
        self.renders: queue.Queue = queue.Queue()
        self.rendering: set[str] = set()
        self.stop_event = threading.Event()
        self.audio_lock = threading.RLock()   # PortAudio is re-initialised only while no stream is open
        self.active: set = set()
        self.scheduler = None
        self._signature = None
        self._last_tick: tuple[float, float] | None = None
        self._lock_file = None

    @property
    def served(self) -> list[str]:
        return self.zone_filter or list(self.cfg.zones)

    # --- start and stop ----------------------------------------------------

    def start(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler
        self._lock()
        self.journal = Journal(self.cfg.paths.state)
        now = self.clock.now()
        recovered = self.journal.recover(now)
        if recovered:
            log.warning(_("{count} airing(s) were cut off when the daemon last stopped: logged as interrupted", count=recovered))
        last_seen = self.journal.meta("last_seen")
        self.planned_until = datetime.fromisoformat(last_seen).timestamp() if last_seen else now.timestamp()
        self.journal.register_daemon(os.getpid(), self.served, now)
        for z in self.served:
            self._resolve_device(z, quiet=False)
            self.workers[z] = ZoneWorker(self, z)
            self.workers[z].start()
        self._signature = self._files_signature()
        self._queue_stale_renders()
        threading.Thread(target=self._renderer, name="renderer", daemon=True).start()
        from apscheduler.executors.pool import ThreadPoolExecutor
        # four jobs, each at most one at a time: four threads, made once (APScheduler's default pool is ten)
        self.scheduler = BackgroundScheduler(timezone=self.tz, executors={"default": ThreadPoolExecutor(4)})
        every = {"trigger": "interval", "max_instances": 1, "coalesce": True}
        self.scheduler.add_job(self._guard(self.plan), seconds=0.5, id="plan", **every)
        self.scheduler.add_job(self._guard(self.take_requests), seconds=0.5, id="requests", **every)
        self.scheduler.add_job(self._guard(self.watch_files), seconds=2, id="watch", **every)
        self.scheduler.add_job(self._guard(self.heartbeat), seconds=2, id="heartbeat", **every)
        self.plan()
        self.heartbeat()
        self.scheduler.start()
        log.info(_("broadcaster daemon started for zones {zones} (state: {state})", zones=", ".join(self.served),
                   state=self.cfg.paths.state))

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        for w in self.workers.values():
            w.stop()
        for w in self.workers.values():
            w.join(timeout=5)
        self.renders.put(None)
        if self.journal is not None:
            self.heartbeat()
            self.journal.unregister_daemon(os.getpid())
            self.journal.close()
        self._unlock()
        log.info(_("broadcaster daemon stopped"))

    def run_forever(self) -> None:
        """Run until SIGTERM or SIGINT (Ctrl+C); then end the airings with a short fade."""
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

    def _guard(self, fn):
        def run():
            try:
                fn()
            except Exception:
                log.exception(_("{job} failed; the daemon keeps going", job=fn.__name__))
        run.__name__ = fn.__name__
        return run

    def _lock(self) -> None:
        state = self.cfg.paths.state
        try:
            private_dir(state)
            f = open(state / "daemon.lock", "a+")
            private_file(state / "daemon.lock")
        except OSError as e:
            raise PlaybackError(_("cannot use the state folder {state}: {reason}", state=state, reason=e.strerror),
                                hint=_("check that it exists and is writable")) from None
        try:
            if os.name == "nt":
                import msvcrt
                msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise PlaybackError(_("another broadcaster daemon is already running on {state}", state=state),
                                hint=_("stop it first, or give this one its own state folder")) from None
        self._lock_file = f

    def _unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # --- planning ----------------------------------------------------------

    def plan(self) -> None:
        """Hand the airings of the next seconds to their zones; log the ones missed."""
        now = self.clock.wall()
        mono = self.clock.monotonic()
        if self._last_tick is not None:
            drift = (now - self._last_tick[0]) - (mono - self._last_tick[1])
            if abs(drift) > JUMP:
                self._clock_jumped(drift, now)
        self._last_tick = (now, mono)
        start = self.planned_until if self.planned_until is not None else now
        horizon = now + LOOKAHEAD
        if start >= horizon:
            return
        window = airings(self.cfg, datetime.fromtimestamp(start, self.tz), datetime.fromtimestamp(horizon, self.tz),
                         zones=set(self.served))
        self.planned_until = horizon
        for a in window:
            key = (a.slot, a.zone, a.time.timestamp())
            if key in self.planned:
                continue
            self.planned.add(key)
            if self.journal.has(a.slot, a.zone, a.time):
                continue
            age = now - a.time.timestamp()
            if age > self.cfg.grace:
                self._missed(a, _("the daemon was not running at {time} and the grace period ({grace} s) had passed",
                                  time=f"{a.time:%H:%M:%S}", grace=f"{self.cfg.grace:g}"))
                continue
            note = (_("played {seconds} s late, after the daemon was down", seconds=f"{age:.0f}")
                    if age > LATE_AFTER else None)
            self.workers[a.zone].submit(Item(a.time, a.zone, a.priority, bulletin=a.bulletin, slot=a.slot,
                                             note=note))
            self._check_audio(a.bulletin)
        self.planned = {k for k in self.planned if k[2] > now - self.cfg.grace - LOOKAHEAD}

    def _missed(self, a, reason: str) -> None:
        self.journal.record(scheduled=a.time, zone=a.zone, bulletin=a.bulletin, priority=a.priority,
                            slot=a.slot, status="missed", reason=reason)
        log.warning(_("zone {zone}: {bulletin} at {time} missed: {reason}", zone=a.zone, bulletin=a.bulletin,
                      time=when(a.time, seconds=True), reason=reason))

    def _clock_jumped(self, drift: float, now: float) -> None:
        if drift > 0:
            log.warning(_("the system clock jumped forward by {seconds} s: airings in the skipped time are logged "
                          "missed, not played all at once", seconds=f"{drift:.0f}"))
            skipped = airings(self.cfg, datetime.fromtimestamp(now - drift, self.tz),
                              datetime.fromtimestamp(now, self.tz), zones=set(self.served))
            for a in skipped:
                if (a.slot, a.zone, a.time.timestamp()) not in self.planned:
                    self.planned.add((a.slot, a.zone, a.time.timestamp()))
                    self._missed(a, _(JUMPED_FORWARD, seconds=f"{drift:.0f}"))
            self.planned_until = max(self.planned_until or now, now)
        else:
            # airings logged missed by a forward jump that are still to come are planned again
            prefixes = {gettext(JUMPED_FORWARD, lang).split("{")[0] for lang in LANGUAGES}
            undone = sum(self.journal.forget_missed(now, p) for p in prefixes)
            self.planned = {k for k in self.planned if k[2] < now}
            log.warning(_("the system clock jumped back by {seconds} s: planning again from the new time "
                          "({count} airing(s) logged missed by an earlier jump are still to come); airings "
                          "already in the play log are not repeated", seconds=f"{-drift:.0f}", count=undone))
            self.planned_until = now

    # --- audio -------------------------------------------------------------

    def audio_for(self, item: Item) -> tuple[Path, str]:
        """The file to play for an item and its SHA-256; PlaybackError if there is none."""
        if item.audio is not None:
            path = item.audio
        else:
            b = self.cfg.bulletins.get(item.bulletin)
            if b is None:
                raise PlaybackError(_('bulletin "{bulletin}" is no longer in the configuration', bulletin=item.bulletin))
            path = b.output_path(self.cfg.paths)
            if not path.is_file():
                self._queue_render(item.bulletin)
                raise PlaybackError(_("no rendered audio for {bulletin} ({file} does not exist)",
                                      bulletin=item.bulletin, file=path.name), hint=_("run broadcaster build"))
        try:
            return path, sha256_unchanged(path)
        except OSError as e:
            raise PlaybackError(_("cannot read {what}: {reason}", what=path.name, reason=e.strerror)) from None

    def open_playback(self, zone: str, path: Path):
        """An output stream for ``zone`` playing ``path``; the zone's worker gives it back with release."""
        from broadcaster.player import Playback
        with self.audio_lock:
            device = self._resolve_device(zone)
            try:
                pb = Playback(device, path, self.cfg.zones[zone].volume)
            except PlaybackError:
                self.devices.pop(zone, None)  # look the device up again next time
                raise
            self.active.add(pb)
            return pb

    def release(self, pb) -> None:
        with self.audio_lock:
            self.active.discard(pb)

    def _resolve_device(self, zone: str, quiet: bool = True) -> int:
        from broadcaster.player import find_output, refresh_outputs
        if zone not in self.devices:
            try:
                self.devices[zone] = find_output(self.cfg.zones[zone].device).index
            except PlaybackError as e:
                if not self.active:
                    # PortAudio lists devices once; while nothing plays, look again (a USB card plugged back)
                    refresh_outputs()
                    self.devices.clear()
                    try:
                        self.devices[zone] = find_output(self.cfg.zones[zone].device).index
                        log.info(_("zone {zone}: its sound output is back", zone=zone))
                        return self.devices[zone]
                    except PlaybackError as again:
                        e = again
                if not quiet:
                    log.error(_("zone {zone}: {reason}; its airings will fail until the device is back", zone=zone, reason=e))
                    return -1
                raise e from None
        return self.devices[zone]

    def _check_audio(self, bulletin: str) -> None:
        """Queue a re-render, ahead of time, when the audio does not match the script."""
        b = self.cfg.bulletins.get(bulletin)
        if b is None:
            return
        side = read_sidecar(b.sidecar_path(self.cfg.paths))
        audio = b.output_path(self.cfg.paths)
        try:
            stale = (side is None or side.get("script_sha256") != sha256_unchanged(b.script)
                     or side.get("audio_sha256") != sha256_unchanged(audio))
        except OSError:
            stale = True
        if stale:
            self._queue_render(bulletin)

    def _queue_stale_renders(self) -> None:
        for bid in self.cfg.bulletins:
            self._check_audio(bid)

    def _queue_render(self, bulletin: str) -> None:
        if bulletin not in self.rendering:
            self.rendering.add(bulletin)
            self.renders.put(bulletin)

    def _renderer(self) -> None:
        """Renders stale or missing audio in a child `broadcaster build` process, one at a time:
        the daemon stays small (the speech and loudness libraries load in the child) and a voice
        that crashes takes only the child with it."""
        while True:
            bid = self.renders.get()
            if bid is None:
                return
            try:
                if bid not in self.cfg.bulletins:
                    continue
                log.info(_("rendering {bulletin} ahead of its airings (its audio is missing or older than its script)",
                            bulletin=bid))
                proc = subprocess.run(self._build_command(bid), cwd=self.cfg.root, stdin=subprocess.DEVNULL,
                                      capture_output=True, text=True,
                                      encoding="utf-8", errors="replace", timeout=RENDER_TIMEOUT)
                said = [line for line in proc.stderr.splitlines() if line.strip()]
                for line in said[:-1] if proc.returncode else said:
                    log.warning("%s: %s", bid, line)
                if proc.returncode:
                    log.error(_("rendering {bulletin} failed: {reason}", bulletin=bid,
                                reason=said[-1] if said else _("exit status {code}", code=proc.returncode)))
                else:
                    side = read_sidecar(self.cfg.bulletins[bid].sidecar_path(self.cfg.paths)) or {}
                    log.info(_("rendered {bulletin} ({engine})", bulletin=bid, engine=side.get("engine", "?")))
            except subprocess.TimeoutExpired:
                log.error(_("rendering {bulletin} failed: {reason}", bulletin=bid,
                            reason=_("it did not finish within {seconds} s", seconds=RENDER_TIMEOUT)))
            except Exception:
                log.exception(_("rendering {bulletin} failed", bulletin=bid))
            finally:
                self.rendering.discard(bid)

    def _build_command(self, bulletin: str) -> list[str]:
        return [sys.executable, "-m", "broadcaster", "--lang", language(), "-c", str(self.config_path),
                *(["--allow-outside"] if self.allow_outside else []), "build", bulletin]

    # --- requests, live edits, heartbeat ---------------------------------------

    def take_requests(self) -> None:
        for rid, target, zone, priority in self.journal.take_requests(self.served):
            now = self.clock.now()
            item = Item(now, zone, priority, request=rid)
            if target in self.cfg.bulletins:
                item.bulletin = target
            else:
                path = Path(target)
                if not path.is_file() or path.suffix.lower() not in AUDIO_SUFFIXES or not self.cfg.inside(path):
                    self.journal.finish_request(rid, "failed", _("{target} is not a bulletin id or an audio file "
                                                                 "inside the project", target=target))
                    continue
                item.audio = path
            log.info(_("zone {zone}: request {request} to play {item} ({priority})", zone=zone, request=rid,
                       item=item.label, priority=priority))
            self.workers[zone].submit(item)

    def _files_signature(self) -> tuple:
        cfg = self.cfg
        paths = [self.config_path, *(b.script for b in cfg.bulletins.values())]
        paths += [p for b in cfg.bulletins.values() for p in (b.tts.lexicon, b.audio.jingle_in, b.audio.jingle_out) if p]
        out = []
        for p in sorted(set(paths)):
            try:
                st = p.stat()
                out.append((str(p), st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((str(p), None, None))
        return tuple(out)

    def watch_files(self) -> None:
        sig = self._files_signature()
        if sig == self._signature:
            return
        self._signature = sig
        try:
            cfg = load_config(self.config_path, allow_outside=self.allow_outside)
        except ConfigError as e:
            log.error(_("the edited configuration is not valid; the old one keeps running:") + "\n%s", e)
            return
        old = self.cfg
        self.cfg = cfg
        if cfg != old:
            log.info(_("configuration reloaded"))
            now = self.clock.wall()
            for z, w in list(self.workers.items()):
                for it in w.drop_future(now + LEAD):
                    self.planned.discard((it.slot, it.zone, it.scheduled.timestamp()))
            if self.zone_filter is None:
                for z in cfg.zones:
                    if z not in self.workers:
                        self.workers[z] = ZoneWorker(self, z)
                        self.workers[z].start()
            self.devices.clear()
            self.planned_until = min(self.planned_until or now, now + LEAD)
        self._queue_stale_renders()

    def heartbeat(self) -> None:
        self.journal.heartbeat(os.getpid(), self.clock.now())


class _PrivateLogFile(RotatingFileHandler):
    """daemon.log and its rotated copies, readable by the owner's group only."""

    def _open(self):
        stream = super()._open()
        private_file(Path(self.baseFilename))
        return stream


def setup_logging(state: Path, verbose: bool = False) -> None:
    """Log lines to stderr (systemd's journal, a console) and to state/daemon.log."""
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
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
