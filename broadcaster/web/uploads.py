"""Recordings uploaded in the console to play now: taken in (size-limited, decoded to check them,
kept under the state folder by their hash) and cleaned up once nothing needs them."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

from broadcaster.config import AUDIO_SUFFIXES, Config
from broadcaster.errors import BroadcasterError
from broadcaster.fsutil import atomic_write_bytes
from broadcaster.i18n import _
from broadcaster.records.playlog import Journal

MAX_UPLOAD = 50_000_000
DAY = 86400.0


def folder(cfg: Config) -> Path:
    return cfg.paths.state / "uploads"


async def take_upload(cfg: Config, upload, lang: str) -> tuple[Path | None, str | None]:
    """An uploaded recording: (its path, None), or (None, why it was refused)."""
    name = Path(upload.filename).name
    suffix = Path(name).suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        return None, _("the file must be audio ({suffixes})", lang, suffixes=", ".join(AUDIO_SUFFIXES))
    data = await upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        return None, _("the file is larger than {size} MB", lang, size=MAX_UPLOAD // 1_000_000)
    target = folder(cfg) / f"{hashlib.sha256(data).hexdigest()}{suffix}"
    atomic_write_bytes(target, data)

    def check():
        from broadcaster.audio.files import decode_file
        decode_file(target, what=name, longest=4 * 3600)
    try:
        await asyncio.to_thread(check)
    except BroadcasterError as e:
        target.unlink(missing_ok=True)
        return None, e.message
    return target, None


def prune_uploads(cfg: Config, now: float) -> list[Path]:
    """Remove the uploads older than ``[web] keep_uploads`` that the play log no longer needs
    (no request waits for them, no airing plays them); the removed files."""
    where = folder(cfg)
    if not where.is_dir():
        return []
    journal = Journal(cfg.paths.state)
    try:
        needed = {Path(p).name for p in journal.audio_in_use()}
    finally:
        journal.close()
    removed = []
    for path in where.iterdir():
        if not path.is_file() or path.name in needed:
            continue
        try:
            if now - path.stat().st_mtime > cfg.web.keep_uploads:
                path.unlink()
                removed.append(path)
        except OSError:
            continue   # gone already, or not ours to remove: tried again tomorrow
    return removed


async def prune_daily(console) -> None:
    """At start and then once a day, for as long as the console runs."""
    while True:
        try:
            await asyncio.to_thread(prune_uploads, console.cfg(), time.time())
        except BroadcasterError:
            pass   # the state folder is unreadable now: the pages say so; tried again tomorrow
        await asyncio.sleep(DAY)
