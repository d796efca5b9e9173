"""Where the loudspeakers are: a zone's place (village, old names, position, kind of line) and the
``[groups]`` of zones that slots, `play` and the console target.

A commune runs one station over 40–150 loudspeaker clusters (cụm loa); people name them by village,
by the pre-2025 names still in use, and by groups ("every cluster along the river"). A group lists
zone ids and other groups (``"group:song"``); it is expanded here, once, into zone ids, so nothing
downstream knows groups exist.
"""

from __future__ import annotations

from typing import Any

from broadcaster.config.schema import _Invalid, _Loader, _show, _suggest, _valid_id
from broadcaster.i18n import _

KINDS = ("ip", "wired", "fm")   # an IP/4G receiver, an old wired segment, an FM segment fed from a sound card
PLACE_KEYS = ("village", "aliases", "lat", "lon", "kind")
GROUP = "group:"


def zone_place(ld: _Loader, z: dict, key: tuple, section: str) -> dict[str, Any]:
    """The place keys of a [zones.ID] table, checked: {village, aliases, position, kind} as given."""
    out: dict[str, Any] = {}
    if "village" in z:
        if isinstance(z["village"], str) and z["village"].strip():
            out["village"] = z["village"].strip()
        else:
            ld.problem(key + ("village",), section, _("village must be a name in quotes, not {value}",
                                                      value=_show(z["village"])))
    if "aliases" in z:
        a = z["aliases"]
        if isinstance(a, list) and all(isinstance(x, str) and x.strip() for x in a):
            out["aliases"] = tuple(x.strip() for x in a)
        else:
            ld.problem(key + ("aliases",), section, _('aliases must be a list of names like ["Xã Quảng An cũ"], '
                                                      "not {value}", value=_show(a)))
    if ("lat" in z) != ("lon" in z):
        ld.problem(key + ("lat" if "lat" in z else "lon",), section, _("lat and lon go together"))
    elif "lat" in z:
        lat, lon = z["lat"], z["lon"]
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lat, lon))
        if ok and -90 <= lat <= 90 and -180 <= lon <= 180:
            out["position"] = (float(lat), float(lon))
        else:
            ld.problem(key + ("lat",), section, _("lat and lon must be degrees like lat = 16.46, lon = 107.59, "
                                                  "not {lat}, {lon}", lat=_show(lat), lon=_show(lon)))
    if "kind" in z:
        if z["kind"] in KINDS:
            out["kind"] = z["kind"]
        else:
            ld.problem(key + ("kind",), section, _("kind must be one of {options}, not {value}",
                                                   options=", ".join(KINDS), value=_show(z["kind"])))
    return out


def parse_groups(ld: _Loader, data: dict, zones: dict) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """[groups]: id → the zone ids it holds, its own and its groups', in order, each once; and the
    names people read, of those written as a table (``ben_song = { name = "Thôn Bến Sông", zones = [...] }``)."""
    table = ld.table(data, "groups")
    raw: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for name, members in table.items():
        if not _valid_id(name):
            ld.problem(("groups", name), "groups", _("a group name may use only letters a-z, digits, '-' and '_'"))
            continue
        if isinstance(members, dict):
            shown = members.get("name")
            if set(members) - {"name", "zones"} or not isinstance(shown, str) or not 0 < len(shown.strip()) <= 80:
                ld.problem(("groups", name), "groups", _('group {name} as a table has name = "…" (a display name, '
                                                         "up to 80 characters) and zones = [...]", name=name))
                continue
            names[name], members = shown.strip(), members.get("zones")
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            ld.problem(("groups", name), "groups", _('group {name} must be a list like ["cum_1", "group:song"], '
                                                     "not {value}", name=name, value=_show(members)))
            continue
        raw[name] = members
    out: dict[str, tuple[str, ...]] = {}

    def expand(name: str, path: tuple[str, ...]) -> tuple[str, ...]:
        if name in out:
            return out[name]
        if name in path:
            raise _Invalid(_("groups contain each other: {cycle}", cycle=" → ".join((*path[path.index(name):], name))))
        ids: list[str] = []
        for m in raw[name]:
            if m.startswith(GROUP):
                inner = m[len(GROUP):]
                if inner not in raw:
                    raise _Invalid(_('group "{group}" is not defined{suggestion}', group=inner,
                                     suggestion=_suggest(inner, raw)))
                ids += expand(inner, (*path, name))
            elif m in zones:
                ids.append(m)
            else:
                raise _Invalid(_('zone "{zone}" is not defined{suggestion}', zone=m, suggestion=_suggest(m, zones)))
        out[name] = tuple(dict.fromkeys(ids))
        return out[name]
    for name in raw:
        try:
            expand(name, ())
        except _Invalid as e:
            ld.problem(("groups", name), f"groups.{name}", str(e))
            out.setdefault(name, ())
    return out, names


def expand_targets(names: list[str], zones: dict, groups: dict[str, tuple[str, ...]]) -> tuple[tuple[str, ...],
                                                                                              list[str]]:
    """Zone ids for a list of zone ids and ``group:NAME`` entries; and the entries that name nothing."""
    ids: list[str] = []
    unknown: list[str] = []
    for n in names:
        if n.startswith(GROUP) and n[len(GROUP):] in groups:
            ids += groups[n[len(GROUP):]]
        elif n in zones:
            ids.append(n)
        else:
            unknown.append(n)
    return tuple(dict.fromkeys(ids)), unknown


def villages_of(zones: dict) -> dict[str, tuple[str, ...]]:
    """The zones of each village (a zone's ``village``), for choosing targets by village."""
    out: dict[str, list[str]] = {}
    for z, zone in zones.items():
        if getattr(zone, "village", None):
            out.setdefault(zone.village, []).append(z)
    return {v: tuple(ids) for v, ids in sorted(out.items())}
