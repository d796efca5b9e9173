"""Who we are on the message server. A node holds up to two sets of credentials: as a station of the
hub above it (the file that hub's `fleet init` wrote, named by [fleet] credentials) and as the hub of
the stations below it (kept in its own state folder by its `fleet init`, with its signing key).

A station trusts what is signed by its hub or by any hub above that one: its credentials file lists
their public keys by name (``[keys]``), so an urgent warning signed by the province plays on a
commune's cluster whether it came through the commune or straight from the province."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from broadcaster.config import Config, display_path
from broadcaster.errors import ConfigError
from broadcaster.i18n import _


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    server: str                    # from [fleet] server; the file's own is a default
    station: str | None            # our name as a station of the hub above; None on our own hub link
    keys: dict = field(default_factory=dict)   # trusted signers: hub name → public key (base64), nearest first
    hub: str = "hub"               # the hub this link belongs to (its account on the server)
    signing_key: str | None = None  # our private key, on our own hub link only

    @property
    def public(self) -> str:
        """The public key of the hub this link belongs to."""
        return self.keys.get(self.hub) or next(iter(self.keys.values()))


def fleet_dir(cfg: Config) -> Path:
    return cfg.paths.state / "fleet"


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def station_file_text(station: str, password: str, server: str, hub: str, keys: dict[str, str]) -> str:
    return (f"# broadcaster: credentials of station \"{station}\" of hub \"{hub}\" on the message server.\n"
            "# Keep this file private. On the station, point [fleet] credentials at it.\n"
            f"station = {toml_string(station)}\nuser = {toml_string(station)}\n"
            f"password = {toml_string(password)}\nserver = {toml_string(server)}\nhub = {toml_string(hub)}\n"
            "[keys]   # the hubs whose signatures this station trusts: its own hub first, then those above\n"
            + "".join(f"{k} = {toml_string(v)}\n" for k, v in keys.items()))


def up_credentials(cfg: Config) -> Credentials:
    """This node's credentials as a station of the hub above it."""
    fleet = cfg.fleet
    if fleet is None or not fleet.is_station:
        raise ConfigError(_("this project is not a station of a hub: its [fleet] table has no station"),
                          hint=_('add [fleet] station = "ID" and credentials = "FILE" (the file the hub made)'))
    data = _read(fleet.credentials)
    if data.get("station") != fleet.station:
        raise ConfigError(_('{file} holds the credentials of station "{theirs}", not "{ours}"',
                            file=display_path(fleet.credentials), theirs=data.get("station"), ours=fleet.station),
                          where=cfg.where("fleet", "credentials"),
                          hint=_("use the file the hub made for this station"))
    keys = data.get("keys")
    hub = data.get("hub") if isinstance(data.get("hub"), str) else "hub"
    if not isinstance(keys, dict) or not keys or not all(isinstance(v, str) for v in keys.values()):
        if not isinstance(data.get("district_key"), str):   # a file written before [keys]
            raise ConfigError(_("the credentials file has no hub key"), where=display_path(fleet.credentials),
                              hint=_("ask the hub for a new one (broadcaster fleet init)"))
        keys = {hub: data["district_key"]}
    return Credentials(data["user"], data["password"], fleet.server or data.get("server", ""), fleet.station,
                       dict(keys), hub)


def hub_credentials(cfg: Config) -> Credentials:
    """This node's credentials as the hub of its stations (written by its `fleet init`)."""
    fleet = cfg.fleet
    if fleet is None:
        raise ConfigError(_("this project has no [fleet] table"),
                          hint=_('add [fleet] with server = "nats://HOST:4222" and name the station of each zone '
                                 "played elsewhere"))
    folder = fleet_dir(cfg)
    path, key_path = hub_files(folder)
    if not path.is_file() or not key_path.is_file():
        raise ConfigError(_("this hub has no credentials yet ({path} is missing)", path=display_path(path)),
                          hint=_("run broadcaster fleet init first"))
    data = _read(path)
    key = key_path.read_text(encoding="utf-8").strip()
    from broadcaster.fleet.signing import public_key
    keys = {fleet.name: public_key(key)}
    if fleet.is_station:   # the hubs above ours are trusted below too
        try:
            keys.update({k: v for k, v in up_credentials(cfg).keys.items() if k != fleet.name})
        except ConfigError:
            pass
    return Credentials(data["user"], data["password"], fleet.server, None, keys, fleet.name, key)


def hub_files(folder: Path) -> tuple[Path, Path]:
    """The hub's own credentials and signing key (named district.* by versions before hubs at any depth)."""
    for stem in ("hub", "district"):
        if (folder / f"{stem}.toml").is_file():
            return folder / f"{stem}.toml", folder / f"{stem}.key"
    return folder / "hub.toml", folder / "hub.key"


def _read(path: Path) -> dict:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(_("cannot read the credentials: {reason}", reason=e), where=display_path(path)) from None
    missing = [k for k in ("user", "password") if not isinstance(data.get(k), str)]
    if missing:
        raise ConfigError(_("the credentials file lacks {keys}", keys=", ".join(missing)), where=display_path(path),
                          hint=_("ask the hub for a new one (broadcaster fleet init)"))
    return data
