"""[fleet] in schedule.toml, and the hub's programme merged into a station's configuration.

A station's programme from its hub arrives signed and is checked by ``broadcaster.fleet``
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
from broadcaster.config.calendar import parse_changes
from broadcaster.config.model import HUB_SLOTS, Config, FleetSettings
from broadcaster.config.schema import _Invalid, _Loader, _show, _str, _valid_id
from broadcaster.config.slots import parse_slots, parse_zones
from broadcaster.i18n import _
from broadcaster.tomllines import LineIndex

FLEET_KEYS = ("server", "station", "credentials", "devices", "monitors", "id")
PROGRAMME_FILE = "programme.toml"
_SERVER = re.compile(r"^(nats|tls)://[^\s/:]+(:\d{1,5})?$")


def programme_path(cfg: Config) -> Path:
    """Where a station keeps the hub's programme it last installed."""
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
        ld.problem(key + ("server",), "fleet", _('server must be the hub\'s message server, like '
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
            ld.problem(key, "fleet", _('a station needs credentials = "FILE" (the file the hub\'s '
                                       "`broadcaster fleet init` wrote for it)"))
        else:
            creds = ld.file_path(t["credentials"], key + ("credentials",), "fleet", "credentials")
    elif "credentials" in t:
        ld.problem(key + ("credentials",), "fleet", _("credentials goes with station (a hub's own are kept in "
                                                      "the state folder by `fleet init`)"))
    ident = t.get("id")
    if ident is not None and (not isinstance(ident, str) or not _valid_id(ident)):
        ld.problem(key + ("id",), "fleet", _("id must be an id (letters a-z, digits, '-' and '_'), not {value}",
                                             value=_show(ident)))
        ident = None
    tables = {}
    for name in ("devices", "monitors"):   # hub's zone → this PC's output (or monitor input) name
        table = t.get(name, {})
        pairs: list[tuple[str, str]] = []
        if not isinstance(table, dict):
            ld.problem(key + (name,), "fleet", _("{key} must be a table: hub's zone = \"device name\"", key=name))
        else:
            for zone, dev in table.items():
                try:
                    pairs.append((zone, _str(dev)))
                except _Invalid as e:
                    ld.problem(key + (name, zone), f"fleet.{name}", f"{zone} {e}")
        tables[name] = tuple(pairs)
    return FleetSettings(",".join(s.strip() for s in servers) if servers else "", station, creds, tables["devices"],
                         ld.index.line(*key), monitors=tables["monitors"], id=ident)


def merge_programme(ld: _Loader, cfg: Config, path: Path) -> Config:
    """The station's own configuration plus its hub's installed programme, if there is one.

    A zone of the programme that this node also declares is the same place (zones keep their ids at
    every level): this node's own entry stands (its station below, device, village) and the hub's slots
    play on it. A bulletin id used by both is refused: the hub's bulletins are the hub's."""
    if not path.is_file():
        return cfg
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        return replace(cfg, programme={"error": _("cannot read {path}: {reason}", path=path, reason=e)},
                       slots=tuple(s for s in cfg.slots if all(b in cfg.bulletins for b in s.sequence)))
    pld = _Loader(path, LineIndex(text), allow_outside=cfg.allow_outside)
    head = data.get("programme", {})
    zones = {z: replace(zone, origin="hub") for z, zone in parse_zones(pld, data).items()}
    bulletins = parse_bulletins(pld, data, cfg.tts, cfg.audio, origin="hub")
    slots = parse_slots(pld, data, pld.table(data, "bulletins"), zones, origin="hub", first=HUB_SLOTS,
                        sources=cfg.sources)   # a relay the hub orders: each station's own [sources.ID]
    # where each slot was first scheduled: the hub that signed the programme, or a hub above it
    origins = head.get("origins") if isinstance(head, dict) else None
    signer = head.get("by") if isinstance(head, dict) and isinstance(head.get("by"), str) else "hub"
    slots = [replace(s, origin=origins[s.index - HUB_SLOTS] if isinstance(origins, list)
                     and s.index - HUB_SLOTS < len(origins) and isinstance(origins[s.index - HUB_SLOTS], str)
                     else signer) for s in slots]
    hub_changes = parse_changes(pld, data, pld.table(data, "bulletins"), zones)   # its airings moved or cancelled
    hub_tz = head.get("timezone") if isinstance(head, dict) else None
    if hub_tz is not None:
        try:
            ZoneInfo(hub_tz)
            slots = [replace(s, timezone=hub_tz) for s in slots]
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            pld.problem(("programme", "timezone"), "programme", _('{value} is not a known time zone (use a name like '
                                                                 '"Asia/Ho_Chi_Minh")', value=repr(hub_tz)))
    if pld.problems:   # the programme cannot be used; own slots that name its bulletins cannot play either
        return replace(cfg, programme={"error": pld.problems[0]},
                       slots=tuple(s for s in cfg.slots if all(b in cfg.bulletins for b in s.sequence)))
    devices, monitors = dict(cfg.fleet.devices), dict(cfg.fleet.monitors)
    zones = {z: replace(zone, device=devices.get(z, zone.device), monitor=monitors.get(z)) for z, zone in zones.items()}
    for clash in sorted(set(cfg.bulletins) & set(bulletins)):
        ld.problem(("bulletins", clash), f"bulletins.{clash}",
                   _('"{id}" is also in the hub\'s programme: rename this one', id=clash))
    return replace(cfg, zones={**zones, **cfg.zones}, bulletins={**cfg.bulletins, **bulletins},
                   slots=cfg.slots + tuple(slots), changes=cfg.changes + hub_changes,
                   programme={"version": head.get("version"), "published": head.get("published"),
                              "station": head.get("station"), "by": signer})
