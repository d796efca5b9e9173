"""Live edits: schedule.toml, scripts, lexicons and jingles watched; a valid change is applied
to every part, an invalid one is logged and the running configuration kept."""

from __future__ import annotations

import logging
import time

from broadcaster.config import load_config, programme_path
from broadcaster.errors import ConfigError
from broadcaster.i18n import _
from broadcaster.daemon.parts import Periodic

log = logging.getLogger("broadcaster.daemon")

RELOAD_RETRY = 10.0   # seconds before a configuration a part could not take is tried again


class Watcher(Periodic):
    name = "watch"
    interval = 2.0

    def __init__(self, daemon):
        super().__init__(daemon)
        self.signature: tuple = ()
        self.retry_at: float | None = None   # when to try again a configuration a part could not take
        self.said: str | None = None         # the last problem logged (a problem is logged once, not each try)

    def start(self) -> None:
        self.signature = self.files_signature()
        if self.d.problem is not None:   # the last good configuration runs: the project's own is tried again soon
            self.retry_at = time.monotonic() + RELOAD_RETRY
        super().start()

    def files_signature(self) -> tuple:
        cfg = self.d.cfg
        paths = [self.d.config_path, *(b.script or b.file for b in cfg.bulletins.values())]
        if cfg.fleet is not None and cfg.fleet.station:
            paths.append(programme_path(cfg))   # a programme installed from the hub above
        paths += [p for b in cfg.bulletins.values() for p in (b.tts.lexicon, b.audio.jingle_in, b.audio.jingle_out) if p]
        out = []
        for p in sorted(set(paths)):
            try:
                st = p.stat()
                out.append((str(p), st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((str(p), None, None))
        return tuple(out)

    def tick(self) -> None:
        sig = self.files_signature()
        if sig == self.signature and (self.retry_at is None or time.monotonic() < self.retry_at):
            return
        self.signature = sig
        self.retry_at = None
        try:
            cfg = load_config(self.d.config_path, allow_outside=self.d.allow_outside)
            if self.d.problem is not None:   # started from the last good one: the project's must pass check too
                from broadcaster.records.check import project_errors
                project_errors(cfg, self.d.clock.now())
        except ConfigError as e:
            if str(e) != self.said:
                log.error(_("the edited configuration is not valid; the old one keeps running:") + "\n%s", e)
                self.said = str(e)
            self.d.configuration_problem(str(e))
            self.retry_at = time.monotonic() + RELOAD_RETRY
            return
        if not self.d.reload(cfg):   # a part could not take it: the old one runs; try again a little later
            self.retry_at = time.monotonic() + RELOAD_RETRY
            return
        self.said = None
        if self.d.problem is not None:
            self.d.configuration_problem(None)
        self.d.keep_good()
