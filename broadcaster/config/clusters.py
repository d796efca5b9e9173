"""A cluster list as a vendor or the province hands it over (CSV), checked, and written into
schedule.toml keeping its comments and layout, edited line by line.

    id,name,village,lat,lon,kind,station
    cum_01,Cụm loa thôn 1,Thôn 1,16.4637,107.5909,ip,

Every problem in the file is reported at once as ``file:line: message``; nothing is written then.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from broadcaster.config.model import display_path
from broadcaster.config.places import KINDS
from broadcaster.config.schema import _valid_id
from broadcaster.errors import ConfigError
from broadcaster.i18n import _

COLUMNS = ("id", "name", "village", "lat", "lon", "kind", "station", "address")   # address: optional, as written before 2025
REQUIRED = ("id", "name")


@dataclass(frozen=True)
class Cluster:
    id: str
    name: str
    village: str | None
    position: tuple[float, float] | None
    kind: str
    station: str | None
    address: str | None = None   # its address as the list gives it (often still the pre-2025 one)


def read_clusters(path: Path) -> list[Cluster]:
    """The clusters of a CSV file; ConfigError naming every bad line."""
    where = display_path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise ConfigError(_("cannot read {path}: {reason}", path=where, reason=e.strerror)) from None
    except UnicodeDecodeError:
        raise ConfigError(_("is not UTF-8 text"), where=where,
                          hint=_("in Excel: Save As, CSV UTF-8 (comma delimited)")) from None
    rows = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(rows, [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ConfigError(_("the first line must name the columns {columns}; missing: {missing}",
                            columns=", ".join(COLUMNS), missing=", ".join(missing)), where=f"{where}:1")
    problems: list[str] = []
    out: list[Cluster] = []
    seen: dict[str, int] = {}
    for line, values in enumerate(rows, start=2):
        if not any(v.strip() for v in values):
            continue
        row = {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(header)}

        def bad(message: str) -> None:
            problems.append(f"{where}:{line}: {message}")
        cid, name = row.get("id", "").lower(), row.get("name", "")
        if not _valid_id(cid):
            bad(_('id "{id}" may use only letters a-z, digits, "-" and "_"', id=row.get("id", "")))
        elif cid in seen:
            bad(_('id "{id}" is also on line {line}', id=cid, line=seen[cid]))
        seen.setdefault(cid, line)
        if not name:
            bad(_("the cluster has no name"))
        position = None
        if row.get("lat") or row.get("lon"):
            try:
                lat, lon = float(row.get("lat", "")), float(row.get("lon", ""))
                if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                    raise ValueError
                position = (lat, lon)
            except ValueError:
                bad(_('lat and lon must be degrees like 16.4637 and 107.5909, not "{lat}" and "{lon}"',
                      lat=row.get("lat", ""), lon=row.get("lon", "")))
        kind = (row.get("kind") or "ip").lower()
        if kind not in KINDS:
            bad(_('kind must be one of {options}, not "{value}"', options=", ".join(KINDS), value=kind))
        station = row.get("station") or None
        if station is not None and not _valid_id(station):
            bad(_('station "{station}" may use only letters a-z, digits, "-" and "_"', station=station))
        out.append(Cluster(cid, name, row.get("village") or None, position, kind, station, row.get("address") or None))
    if not out and not problems:
        problems.append(f"{where}: " + _("has no clusters after its first line"))
    if problems:
        raise ConfigError(problems[0], problems=problems)
    return out


def with_clusters(schedule_text: str, clusters: list[Cluster], group: str | None) -> tuple[str, int, int]:
    """schedule.toml's text with each cluster as a [zones.ID] table (added, or its place keys updated;
    its device, volume and everything else left as they are), and the clusters in ``group`` if given:
    (the new text, how many added, how many updated). Edited line by line (config.tomledit): every other
    line stays as it was and where it was."""
    import tomllib
    from broadcaster.config.tomledit import TomlLines
    data = tomllib.loads(schedule_text)
    doc = TomlLines(schedule_text)
    added = updated = 0
    for c in clusters:
        values = {"name": c.name, "village": c.village, "kind": c.kind, "station": c.station,
                  "lat": c.position[0] if c.position else None, "lon": c.position[1] if c.position else None}
        if c.id in data.get("zones", {}) and doc.table(f"zones.{c.id}") is not None:
            for k, v in values.items():
                if v is not None:
                    doc.set(f"zones.{c.id}", k, v)
            updated += 1
        else:
            doc.add_table(f"zones.{c.id}", values, after="zones.")
            added += 1
    if group:
        members = list(data.get("groups", {}).get(group, []))
        doc.set("groups", group, members + [c.id for c in clusters if c.id not in members])
    return doc.text(), added, updated


def new_commune(address: str) -> str | None:
    """The commune or ward an old (pre-July-2025) address belongs to now, from the offline old→new map
    of the package vietnam-address-converter (Apache-2.0); None if it is not known there."""
    try:
        from vietnam_address_converter import convert_address_text
        result = convert_address_text(address)
    except Exception:   # not installed, or an address it cannot read: no suggestion
        return None
    if not isinstance(result, dict) or result.get("input_type") != "old":
        return None
    ward = ((result.get("converted") or {}).get("ward") or {}).get("path_with_type")
    return ward or None
