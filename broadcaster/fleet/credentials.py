"""Who we are on the district's message server: a station's credentials file, or the district's own
(kept in its state folder by `fleet init`, with its signing key)."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from broadcaster.config import Config, display_path
from broadcaster.errors import ConfigError
from broadcaster.i18n import _


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    server: str                    # from [fleet] server; the file's own is a default
    station: str | None            # None for the district
    district_key: str              # the district's public key (base64)
    signing_key: str | None = None  # the district's private key, at the district only


def fleet_dir(cfg: Config) -> Path:
    return cfg.paths.state / "fleet"


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def station_file_text(station: str, password: str, server: str, public: str) -> str:
    return (f"# broadcaster: credentials of station \"{station}\" on the district's message server.\n"
            "# Keep this file private. On the station, point [fleet] credentials at it.\n"
            f"station = {toml_string(station)}\nuser = {toml_string(station)}\n"
            f"password = {toml_string(password)}\nserver = {toml_string(server)}\n"
            f"district_key = {toml_string(public)}\n")


def load_credentials(cfg: Config) -> Credentials:
    """This project's credentials: the station's file, or at the district the ones `fleet init` wrote."""
    fleet = cfg.fleet
    if fleet is None:
        raise ConfigError(_("this project has no [fleet] table"),
                          hint=_('add [fleet] with server = "nats://HOST:4222" (and station, credentials on a station)'))
    if fleet.is_district:
        folder = fleet_dir(cfg)
        path = folder / "district.toml"
        if not path.is_file():
            raise ConfigError(_("the district has no credentials yet ({path} is missing)", path=display_path(path)),
                              hint=_("run broadcaster fleet init first"))
        data = _read(path)
        key = (folder / "district.key").read_text(encoding="utf-8").strip()
        from broadcaster.fleet.signing import public_key
        return Credentials(data["user"], data["password"], fleet.server, None, public_key(key), key)
    data = _read(fleet.credentials)
    if data.get("station") != fleet.station:
        raise ConfigError(_('{file} holds the credentials of station "{theirs}", not "{ours}"',
                            file=display_path(fleet.credentials), theirs=data.get("station"), ours=fleet.station),
                          where=cfg.where("fleet", "credentials"),
                          hint=_("use the file the district made for this station"))
    return Credentials(data["user"], data["password"], fleet.server or data.get("server", ""), fleet.station,
                       data["district_key"])


def _read(path: Path) -> dict:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(_("cannot read the credentials: {reason}", reason=e), where=display_path(path)) from None
    missing = [k for k in ("user", "password") if not isinstance(data.get(k), str)]
    if missing:
        raise ConfigError(_("the credentials file lacks {keys}", keys=", ".join(missing)), where=display_path(path),
                          hint=_("ask the district for a new one (broadcaster fleet init)"))
    return data
