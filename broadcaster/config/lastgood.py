"""The last good configuration, as a boot loader keeps its fallback entry: every configuration the daemon
ran is kept in the state folder (schedule.toml and, at a station, the hub's programme, with the hashes
of its scripts and audio); a daemon that cannot use the current one starts from it and alarms, and takes
the current one again as soon as it can. Only a station that never ran one may refuse to start."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from broadcaster.config.fleet import programme_path
from broadcaster.config.loader import load_config
from broadcaster.config.model import Config
from broadcaster.errors import ConfigError
from broadcaster.fsutil import atomic_path, atomic_write_bytes, sha256_unchanged

FOLDER = "last-good"


@dataclass(frozen=True)
class Kept:
    cfg: Config
    saved: str          # when it was kept (ISO, the station's time)


def _folder(state: Path) -> Path:
    return state / FOLDER


def keep(cfg: Config, now: datetime) -> None:
    """Keep ``cfg``'s files as the last good configuration (a copy that does not load again is not kept)."""
    folder = _folder(cfg.paths.state)
    folder.mkdir(parents=True, exist_ok=True)
    programme = programme_path(cfg)
    with atomic_path(folder / "schedule.toml") as tmp:
        shutil.copyfile(cfg.path, tmp)
        kept_programme = None
        if programme.is_file():
            kept_programme = folder / "programme.toml"
            shutil.copyfile(programme, kept_programme.with_suffix(".new"))
        try:   # the copy loads as it is, with the project's folder as its root
            load_config(tmp, allow_outside=cfg.allow_outside, root=cfg.root,
                        programme=kept_programme.with_suffix(".new") if kept_programme else None)
        except ConfigError:
            (folder / "programme.new").unlink(missing_ok=True)
            raise
        if kept_programme is not None:
            kept_programme.with_suffix(".new").replace(kept_programme)
        else:   # no programme from above now: an older one kept must not come back with this configuration
            (folder / "programme.toml").unlink(missing_ok=True)
    hashes = {}
    for b in cfg.bulletins.values():
        for f in (b.script, b.file, b.output_path(cfg.paths) if b.rendered else None):
            if f is not None and f.is_file():
                hashes[str(f)] = sha256_unchanged(f)   # remembered while unchanged: a reload rehashes only edits
    atomic_write_bytes(folder / "manifest.json", json.dumps({"saved": now.isoformat(timespec="seconds"),
                                                             "files": hashes}, ensure_ascii=False).encode())


def last_good(config_path: Path, allow_outside: bool = False) -> Kept | None:
    """The configuration last kept for the project of ``config_path`` (in its state folder, found without
    loading the file), or None if there is none (or it no longer loads)."""
    folder = _folder(state_folder(config_path))
    if not (folder / "schedule.toml").is_file():
        return None
    programme = folder / "programme.toml"
    try:
        cfg = load_config(folder / "schedule.toml", allow_outside=allow_outside, root=config_path.resolve().parent,
                          programme=programme if programme.is_file() else None)
        saved = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("saved", "?")
    except (ConfigError, OSError, ValueError):
        return None
    return Kept(cfg, str(saved))


def state_folder(config_path: Path) -> Path:
    """Where a project keeps its state when its schedule.toml cannot be read: [paths] state as far as it can be
    read from the file, else the default beside it."""
    import tomllib
    try:
        state = tomllib.loads(config_path.read_text(encoding="utf-8-sig")).get("paths", {}).get("state", "state")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
        state = "state"
    root = config_path.resolve().parent
    return (root / state).resolve() if isinstance(state, str) else root / "state"
