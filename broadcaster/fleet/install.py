"""Installing a verified programme on a station, so that a crash at any moment leaves either the old
programme or the new one, never half of one.

Audio files are content-addressed (``<state>/fleet/audio/<sha256>.<ext>``): each is written to a
temporary file, its size and SHA-256 checked, then renamed. Only when every file is in place is
the programme itself (``programme.toml``) replaced, after the whole configuration has been loaded
with it; the daemon's live reload then takes it.
"""

from __future__ import annotations

import contextlib
import json
import time
import tomllib
from pathlib import Path
from typing import Callable

from broadcaster.config import Config, load_config, programme_path
from broadcaster.errors import ConfigError, RefusedError
from broadcaster.fleet.credentials import fleet_dir
from broadcaster.fleet.manifest import audio_name, programme_toml
from broadcaster.fsutil import atomic_path, atomic_write_bytes, private_dir, sha256_file
from broadcaster.i18n import _

KEEP_UNUSED = 24 * 3600   # seconds an audio file no programme names is kept (a command may still play it)


def installed_version(cfg: Config) -> int | None:
    try:
        head = tomllib.loads(programme_path(cfg).read_text(encoding="utf-8")).get("programme", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    v = head.get("version")
    return v if isinstance(v, int) else None


def audio_dir(cfg: Config) -> Path:
    return fleet_dir(cfg) / "audio"


def store_path(cfg: Config, info: dict) -> Path:
    return audio_dir(cfg) / audio_name(info)


def store_audio(cfg: Config, info: dict, fetch: Callable[[str, Path], None]) -> Path:
    """The file of one audio object, fetched if it is not here yet, checked before it is kept."""
    target = store_path(cfg, info)
    if target.is_file() and target.stat().st_size == info["size"]:
        return target   # its hash was checked when it was stored; the name is the hash
    private_dir(audio_dir(cfg))
    with atomic_path(target, suffix=".part") as tmp:
        fetch(info["sha256"], tmp)
        size = tmp.stat().st_size
        if size != info["size"]:
            raise RefusedError(_("the audio {sha} arrived with {got} bytes instead of {want} (a truncated transfer)",
                                 sha=info["sha256"][:12], got=size, want=info["size"]))
        got = sha256_file(tmp)
        if got != info["sha256"]:
            raise RefusedError(_("the audio {sha} arrived with another SHA-256 ({got}): refused",
                                 sha=info["sha256"][:12], got=got[:12]))
    return target


def install(cfg: Config, doc: dict, raw: bytes, fetch: Callable[[str, Path], None]) -> None:
    """Fetch what is missing, check it all, then switch to the new programme in one rename."""
    folder = private_dir(fleet_dir(cfg))
    remove_leftovers(folder)
    for info in doc["bulletins"].values():
        store_audio(cfg, info, fetch)
    with atomic_path(programme_path(cfg), suffix=".new.toml") as tmp:
        tmp.write_text(programme_toml(doc), encoding="utf-8")
        try:
            merged = load_config(cfg.path, allow_outside=cfg.allow_outside, programme=tmp, root=cfg.root)
        except ConfigError as e:
            raise RefusedError(_("the programme does not fit this station's configuration: {problem}",
                                 problem=e.problems[0])) from None
        if merged.programme is None or "error" in merged.programme:
            raise RefusedError(_("the programme could not be read: {problem}",
                                 problem=(merged.programme or {}).get("error", "?")))
        atomic_write_bytes(folder / "manifest.json", raw)   # the signed original, for the record
    forget_unused(cfg, doc)


def remove_leftovers(folder: Path) -> None:
    """Temporary files of a transfer that a crash or power cut interrupted."""
    for pattern in (".*.part", ".*.new.toml", "audio/.*.part"):
        for p in folder.glob(pattern):
            with contextlib.suppress(OSError):
                p.unlink()


def forget_unused(cfg: Config, doc: dict) -> None:
    used = {audio_name(i) for i in doc["bulletins"].values()}
    now = time.time()
    for p in audio_dir(cfg).glob("*.*"):
        if p.name not in used and not p.name.startswith(".") and now - p.stat().st_mtime > KEEP_UNUSED:
            with contextlib.suppress(OSError):
                p.unlink()


def installed_manifest(cfg: Config) -> dict | None:
    try:
        return json.loads((fleet_dir(cfg) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
