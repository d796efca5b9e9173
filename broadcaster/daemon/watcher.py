"""Live edits: schedule.toml, scripts, lexicons and jingles watched; a valid change is applied
to every part, an invalid one is logged and the running configuration kept."""

from __future__ import annotations

import logging

from broadcaster.config import load_config, programme_path
from broadcaster.errors import ConfigError
from broadcaster.i18n import _
from broadcaster.daemon.parts import Periodic

log = logging.getLogger("broadcaster.daemon")


class Watcher(Periodic):
    name = "watch"
    interval = 2.0

    def __init__(self, daemon):
        super().__init__(daemon)
        self.signature: tuple = ()

    def start(self) -> None:
        self.signature = self.files_signature()
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
        if sig == self.signature:
            return
        self.signature = sig
        try:
            cfg = load_config(self.d.config_path, allow_outside=self.d.allow_outside)
        except ConfigError as e:
            log.error(_("the edited configuration is not valid; the old one keeps running:") + "\n%s", e)
            return
        self.d.reload(cfg)
