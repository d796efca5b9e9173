"""Keeps each bulletin's audio in step with its script, and says which file an airing plays.

Stale or missing audio is rendered ahead of its airings in a child `broadcaster build`
process, one at a time: the daemon stays small (the speech and loudness libraries load in
the child) and a voice that crashes takes only the child with it.
"""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

from broadcaster.errors import PlaybackError
from broadcaster.fsutil import sha256_unchanged
from broadcaster.i18n import _, language
from broadcaster.render.sidecar import read_sidecar
from broadcaster.daemon.parts import Part

log = logging.getLogger("broadcaster.daemon")

RENDER_TIMEOUT = 1800  # seconds for a child `broadcaster build` of one bulletin
RENDER_NICENESS = 10   # the child runs this much nicer than the daemon (POSIX; ignored elsewhere)


class Renderer(Part):
    name = "renderer"

    def __init__(self, daemon):
        super().__init__(daemon)
        self.queue: queue.Queue = queue.Queue()
        self.pending: set[str] = set()
        self.thread: threading.Thread | None = None
        self._accounts = None

    def accounts(self):
        """The approvals, opened when first needed ([approval] required)."""
        if self._accounts is None:
            from broadcaster.records.accounts import Accounts
            self._accounts = Accounts(self.d.cfg.paths.state)
        return self._accounts

    def start(self) -> None:
        self.queue_stale()
        self.thread = threading.Thread(target=self._run, name="renderer", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.queue.put(None)
        if self._accounts is not None:
            self._accounts.close()

    def reload(self, old, new) -> None:
        self.queue_stale()   # a script or a jingle may have changed even when the config did not

    def bulletin_audio(self, bulletin: str) -> Path:
        """The file an airing of ``bulletin`` plays (where approval is required, its approved version);
        PlaybackError if there is none (a missing render is queued)."""
        cfg = self.d.cfg
        b = cfg.bulletins.get(bulletin)
        if b is None:
            raise PlaybackError(_('bulletin "{bulletin}" is no longer in the configuration', bulletin=bulletin))
        if cfg.approval_required:
            from broadcaster.records.approval import audio_to_air
            path = audio_to_air(cfg, self.accounts(), b)
        else:
            path = b.output_path(cfg.paths)
        if not path.is_file():
            self.queue_render(bulletin)
            raise PlaybackError(_("no rendered audio for {bulletin} ({file} does not exist)",
                                  bulletin=bulletin, file=path.name), hint=_("run broadcaster build"))
        return path

    def fallback_for(self, source) -> Path | None:
        """What a relay plays while its source is down: its fallback bulletin (as any airing of it
        would be: approved, rendered) or audio file; None (silence, logged) if it has none to play."""
        if source.fallback:
            try:
                return self.bulletin_audio(source.fallback)
            except PlaybackError as e:
                log.warning(_("source {source}: its fallback cannot be played ({reason}); silence instead",
                              source=source.id, reason=e.message))
                return None
        return source.fallback_file if source.fallback_file and source.fallback_file.is_file() else None

    def audio_for(self, item) -> tuple[Path, str]:
        """The file to play for an item and its SHA-256; PlaybackError if there is none."""
        path = item.audio if item.audio is not None else self.bulletin_audio(item.bulletin)
        try:
            return path, sha256_unchanged(path)
        except OSError as e:
            raise PlaybackError(_("cannot read {what}: {reason}", what=path.name, reason=e.strerror)) from None

    def check(self, bulletin: str) -> None:
        """Queue a re-render, ahead of time, when the audio does not match the script."""
        cfg = self.d.cfg
        b = cfg.bulletins.get(bulletin)
        if b is None or not b.rendered:
            return
        side = read_sidecar(b.sidecar_path(cfg.paths))
        audio = b.output_path(cfg.paths)
        try:
            stale = (side is None or side.get("script_sha256") != sha256_unchanged(b.script)
                     or side.get("audio_sha256") != sha256_unchanged(audio))
        except OSError:
            stale = True
        if stale:
            self.queue_render(bulletin)

    def queue_stale(self) -> None:
        for bid in self.d.cfg.bulletins:
            self.check(bid)

    def queue_render(self, bulletin: str) -> None:
        if bulletin not in self.pending:
            self.pending.add(bulletin)
            self.queue.put(bulletin)

    def _run(self) -> None:
        while True:
            bid = self.queue.get()
            if bid is None:
                return
            try:
                if bid in self.d.cfg.bulletins:
                    self._render(bid)
            except subprocess.TimeoutExpired:
                log.error(_("rendering {bulletin} failed: {reason}", bulletin=bid,
                            reason=_("it did not finish within {seconds} s", seconds=RENDER_TIMEOUT)))
            except Exception:
                log.exception(_("rendering {bulletin} failed", bulletin=bid))
            finally:
                self.pending.discard(bid)

    def _render(self, bid: str) -> None:
        log.info(_("rendering {bulletin} ahead of its airings (its audio is missing or older than its script)",
                   bulletin=bid))
        proc = render_in_child(self.d.config_path, self.d.cfg.root, self.d.allow_outside, bid)
        said = [line for line in proc.stderr.splitlines() if line.strip()]
        for line in said[:-1] if proc.returncode else said:
            log.warning("%s: %s", bid, line)
        if proc.returncode:
            log.error(_("rendering {bulletin} failed: {reason}", bulletin=bid,
                        reason=said[-1] if said else _("exit status {code}", code=proc.returncode)))
        else:
            side = read_sidecar(self.d.cfg.bulletins[bid].sidecar_path(self.d.cfg.paths)) or {}
            log.info(_("rendered {bulletin} ({engine})", bulletin=bid, engine=side.get("engine", "?")))


def render_in_child(config_path: Path, root: Path, allow_outside: bool, bulletin: str) -> subprocess.CompletedProcess:
    """`broadcaster build BULLETIN` in a child process (the daemon's renderer and the console's editor),
    at a lower priority: a render keeps both cores busy, and the airings on this PC come first."""
    return subprocess.run([sys.executable, "-m", "broadcaster", "--lang", language(), "-c", str(config_path),
                           *(["--allow-outside"] if allow_outside else []), "build", bulletin],
                          cwd=root, stdin=subprocess.DEVNULL, capture_output=True, text=True, encoding="utf-8",
                          errors="replace", timeout=RENDER_TIMEOUT,
                          env={**os.environ, "BROADCASTER_NICE": str(RENDER_NICENESS)})
