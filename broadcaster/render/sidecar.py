"""The sidecar JSON written beside each rendered bulletin, read without heavy imports."""

from __future__ import annotations

import json
from pathlib import Path

from broadcaster.config import Config


def read_sidecar(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def durations(cfg: Config) -> dict[str, float]:
    """Length of each bulletin: a rendered one's from its sidecar, a ready-made file's from its header."""
    out = {}
    for b in cfg.bulletins.values():
        if b.file is not None:
            seconds = file_length(b.file)
            if seconds is not None:
                out[b.id] = seconds
            continue
        side = read_sidecar(b.sidecar_path(cfg.paths))
        if side and isinstance(side.get("duration_s"), (int, float)):
            out[b.id] = float(side["duration_s"])
    return out


_lengths: dict[tuple, float | None] = {}   # (path, size, mtime) → seconds: headers are read once


def file_length(path: Path) -> float | None:
    """Seconds of audio in a file, from its header (None if it cannot be read)."""
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _lengths:
        import soundfile
        try:
            info = soundfile.info(str(path))
            _lengths[key] = info.frames / info.samplerate if info.samplerate else None
        except (RuntimeError, OSError, soundfile.LibsndfileError):
            _lengths[key] = None
    return _lengths[key]


def sequence_lengths(cfg: Config) -> dict[str, float]:
    """``durations``, where a slot plays a sequence (which needs them to place its bulletins); else nothing to read."""
    return durations(cfg) if any(s.then for s in cfg.slots) else {}
