"""A cluster list as a vendor or the province hands it over (CSV), checked, and written into
schedule.toml keeping its comments and layout, edited line by line.

    id,name,village,lat,lon,kind,station
    cum_01,Cụm loa thôn 1,Thôn 1,16.4637,107.5909,ip,

Every problem in the file is reported at once as ``file:line: message``; nothing is written then.
"""

from __future__ import annotations

import csv
import io
import re
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


_HEADER = re.compile(r'^\s*\[\[?\s*([A-Za-z0-9_.\-" ]+?)\s*\]\]?\s*(#.*)?$')


def _blocks(lines: list[str]) -> list[tuple[str, int, int]]:
    """(header, first line, end) of each table in the file, in order (end: the next header's line)."""
    heads = [(m[1].replace(" ", ""), i) for i, line in enumerate(lines) if (m := _HEADER.match(line))]
    return [(h, i, heads[k + 1][1] if k + 1 < len(heads) else len(lines)) for k, (h, i) in enumerate(heads)]


def _value(v) -> str:
    import tomlkit
    return tomlkit.item(v).as_string()


def _set_key(lines: list[str], start: int, end: int, key: str, value) -> None:
    """``key = value`` in the table whose lines are ``start``..``end``: its line replaced (a comment after it
    kept), or added after the table's last key."""
    pattern = re.compile(rf"^(\s*){re.escape(key)}\s*=\s*[^#]*?(\s*#.*)?$")
    for i in range(start + 1, end):
        if not re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
            continue
        depth, j = 0, i   # an array written over several lines: all of them go
        while True:
            depth += lines[j].split("#")[0].count("[") - lines[j].split("#")[0].count("]")
            if depth <= 0 or j + 1 >= end:
                break
            j += 1
        m = pattern.match(lines[i]) if j == i else None
        lines[i:j + 1] = [f"{m[1] if m else ''}{key} = {_value(value)}{(m[2] or '') if m else ''}"]
        return
    last = max([i for i in range(start + 1, end) if lines[i].strip() and not lines[i].lstrip().startswith("#")],
               default=start)
    lines.insert(last + 1, f"{key} = {_value(value)}")


def with_clusters(schedule_text: str, clusters: list[Cluster], group: str | None) -> tuple[str, int, int]:
    """schedule.toml's text with each cluster as a [zones.ID] table (added, or its place keys updated;
    its device, volume and everything else left as they are), and the clusters in ``group`` if given:
    (the new text, how many added, how many updated). Edited as text, line by line: every other line stays
    as it was and where it was (a TOML library that writes the whole file moves tables about)."""
    import tomllib
    data = tomllib.loads(schedule_text)
    lines = schedule_text.splitlines()
    added = updated = 0
    for c in clusters:
        values = {"name": c.name, "village": c.village, "kind": c.kind, "station": c.station,
                  "lat": c.position[0] if c.position else None, "lon": c.position[1] if c.position else None}
        blocks = _blocks(lines)
        mine = [(s, e) for h, s, e in blocks if h in (f"zones.{c.id}", f'zones."{c.id}"')]
        if mine and c.id in data.get("zones", {}):
            start, end = mine[0]
            for k, v in values.items():
                if v is not None:
                    _set_key(lines, start, end, k, v)
                    end = next(e for h, s, e in _blocks(lines) if s == start)
            updated += 1
            continue
        table = [f"[zones.{c.id}]", *(f"{k} = {_value(v)}" for k, v in values.items() if v is not None), ""]
        zone_ends = [e for h, _s, e in blocks if h.startswith("zones.")]
        at = zone_ends[-1] if zone_ends else len(lines)
        if at > 0 and lines[at - 1].strip():
            table.insert(0, "")   # a blank line between it and the table before
        lines[at:at] = table
        added += 1
    if group:
        members = list(data.get("groups", {}).get(group, []))
        members += [c.id for c in clusters if c.id not in members]
        groups = [(s, e) for h, s, e in _blocks(lines) if h == "groups"]
        if groups:
            _set_key(lines, *groups[0], group, members)
        else:
            lines += ["", "[groups]", f"{group} = {_value(members)}"]
    return "\n".join(lines) + "\n", added, updated


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
