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
    """Rendered length of each bulletin, where its sidecar says."""
    out = {}
    for b in cfg.bulletins.values():
        side = read_sidecar(b.sidecar_path(cfg.paths))
        if side and isinstance(side.get("duration_s"), (int, float)):
            out[b.id] = float(side["duration_s"])
    return out
