"""[fleet] in schedule.toml, and the district's programme merged into a station's configuration.

A station's programme from the district arrives signed and is checked by ``broadcaster.fleet``
before it is installed as ``<state>/fleet/programme.toml``: zones, bulletins (ready-made audio,
content-addressed) and slots in the same schema as schedule.toml. This module only reads it
and merges it with the station's own zones, bulletins and slots, each marked with its origin.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from broadcaster.config.bulletins import parse_bulletins
from broadcaster.config.model import DISTRICT_SLOTS, Config, FleetSettings
from broadcaster.config.schema import _Invalid, _Loader, _show, _str, _valid_id
from broadcaster.config.slots import parse_slots, parse_zones
from broadcaster.i18n import _
from broadcaster.tomllines import LineIndex

FLEET_KEYS = ("server", "station", "credentials", "devices", "monitors")
PROGRAMME_FILE = "programme.toml"
_SERVER = re.compile(r"^(nats|tls)://[^\s/:]+(:\d{1,5})?$")


def programme_path(cfg: Config) -> Path:
    """Where a station keeps the district's programme it last installed."""
    return cfg.paths.state / "fleet" / PROGRAMME_FILE


def parse_fleet(ld: _Loader, data: dict) -> FleetSettings | None:
    if "fleet" not in data:
        return None
    t = ld.table(data, "fleet")
    key = ("fleet",)
    ld.unknown_keys(t, FLEET_KEYS, key, "fleet")
    server = t.get("server")
    servers = server.split(",") if isinstance(server, str) else []
    if not servers or not all(_SERVER.match(s.strip()) for s in servers):
        ld.problem(key + ("server",), "fleet", _('server must be the district\'s message server, like '
                                                 '"nats://10.0.0.5:4222", not {value}',
                                                 value=_show(server) if server is not None else _("missing")))
    station = t.get("station")
    if station is not None and (not isinstance(station, str) or not _valid_id(station)):
        ld.problem(key + ("station",), "fleet", _("station must be an id (letters a-z, digits, '-' and '_'), "
                                                  "not {value}", value=_show(station)))
        station = None
    creds = None
    if station is not None:
        if "credentials" not in t:
            ld.problem(key, "fleet", _('a station needs credentials = "FILE" (the file the district\'s '
                                       "`broadcaster fleet init` wrote for it)"))
        else:
            creds = ld.file_path(t["credentials"], key + ("credentials",), "fleet", "credentials")
    elif "credentials" in t:
        ld.problem(key + ("credentials",), "fleet", _("credentials goes with station (at the district, "
                                                      "`fleet init` keeps its own in the state folder)"))
    tables = {}
    for name in ("devices", "monitors"):   # district zone → this PC's output (or monitor input) name
        table = t.get(name, {})
        pairs: list[tuple[str, str]] = []
        if not isinstance(table, dict):
            ld.problem(key + (name,), "fleet", _("{key} must be a table: district zone = \"device name\"", key=name))
        else:
            for zone, dev in table.items():
                try:
                    pairs.append((zone, _str(dev)))
                except _Invalid as e:
                    ld.problem(key + (name, zone), f"fleet.{name}", f"{zone} {e}")
        tables[name] = tuple(pairs)
    return FleetSettings(",".join(s.strip() for s in servers) if servers else "", station, creds, tables["devices"],
                         ld.index.line(*key), monitors=tables["monitors"])


def merge_programme(ld: _Loader, cfg: Config, path: Path) -> Config:
    """The station's own configuration plus the district's installed programme, if there is one."""
    if not path.is_file():
        return cfg
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        return replace(cfg, programme={"error": _("cannot read {path}: {reason}", path=path, reason=e)})
    pld = _Loader(path, LineIndex(text), allow_outside=cfg.allow_outside)
    head = data.get("programme", {})
    zones = {z: replace(zone, origin="district") for z, zone in parse_zones(pld, data).items()}
    bulletins = parse_bulletins(pld, data, cfg.tts, cfg.audio, origin="district")
    slots = parse_slots(pld, data, pld.table(data, "bulletins"), zones, origin="district", first=DISTRICT_SLOTS,
                        sources=cfg.sources)   # a relay the district orders: each station's own [sources.ID]
    hub_tz = head.get("timezone") if isinstance(head, dict) else None
    if hub_tz is not None:
        try:
            ZoneInfo(hub_tz)
            slots = [replace(s, timezone=hub_tz) for s in slots]
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            pld.problem(("programme", "timezone"), "programme", _('{value} is not a known time zone (use a name like '
                                                                 '"Asia/Ho_Chi_Minh")', value=repr(hub_tz)))
    if pld.problems:
        return replace(cfg, programme={"error": pld.problems[0]})
    devices, monitors = dict(cfg.fleet.devices), dict(cfg.fleet.monitors)
    zones = {z: replace(zone, device=devices.get(z, zone.device), monitor=monitors.get(z)) for z, zone in zones.items()}
    for kind, local, theirs in (("zones", cfg.zones, zones), ("bulletins", cfg.bulletins, bulletins)):
        for clash in sorted(set(local) & set(theirs)):
            ld.problem((kind, clash), f"{kind}.{clash}",
                       _('"{id}" is also in the district\'s programme: rename this one', id=clash))
    return replace(cfg, zones={**cfg.zones, **zones}, bulletins={**cfg.bulletins, **bulletins},
                   slots=cfg.slots + tuple(slots),
                   programme={"version": head.get("version"), "published": head.get("published"),
                              "station": head.get("station")})
