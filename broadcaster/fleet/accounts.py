"""`broadcaster fleet init`: the district's message server config, one account per station, the
district's signing key. Run again, it adds new stations and keeps the existing ones' passwords."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from broadcaster.config import Config
from broadcaster.errors import ConfigError
from broadcaster.fleet.credentials import fleet_dir, station_file_text, toml_string
from broadcaster.fleet.names import DISTRICT_USER, station_permissions
from broadcaster.fleet.signing import new_private_key, public_key
from broadcaster.fsutil import atomic_write_bytes, private_dir, private_file
from broadcaster.i18n import _

SERVER_CONF = "nats-server.conf"


@dataclass
class InitResult:
    folder: Path
    conf: Path
    added: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    station_files: dict[str, Path] = field(default_factory=dict)


def _hash(password: str) -> str:
    import bcrypt
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(11)).decode()


def _write_private(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
    private_file(path)
    path.chmod(0o600)


def init_fleet(cfg: Config, *, listen: str | None = None, store: Path | None = None) -> InitResult:
    if cfg.fleet is None or not cfg.fleet.is_district:
        raise ConfigError(_("fleet init is for the district's project: its [fleet] table has server and no station"),
                          hint=_('add [fleet] server = "nats://HOST:4222" to the district\'s schedule.toml'))
    stations = cfg.stations()
    if not stations:
        raise ConfigError(_("no zone names a station"),
                          hint=_('add station = "ID" to the zones each commune\'s PC plays, e.g. [zones.quang_an]'))
    folder = private_dir(fleet_dir(cfg))
    private_dir(folder / "stations")
    accounts_path = folder / "accounts.json"
    accounts = json.loads(accounts_path.read_text()) if accounts_path.is_file() else {"stations": {}}
    result = InitResult(folder, folder / SERVER_CONF)
    key_path = folder / "district.key"
    if not key_path.is_file():
        _write_private(key_path, new_private_key() + "\n")
    public = public_key(key_path.read_text().strip())
    if "district" not in accounts:
        password = secrets.token_urlsafe(24)
        accounts["district"] = _hash(password)
        _write_private(folder / "district.toml", f"user = {toml_string(DISTRICT_USER)}\npassword = {toml_string(password)}\n")
    for s in stations:
        if s in accounts["stations"]:
            result.kept.append(s)
            continue
        password = secrets.token_urlsafe(24)
        accounts["stations"][s] = _hash(password)
        path = folder / "stations" / f"{s}.toml"
        _write_private(path, station_file_text(s, password, cfg.fleet.server.split(",")[0], public))
        result.station_files[s] = path
        result.added.append(s)
    _write_private(accounts_path, json.dumps(accounts, indent=1))
    port = urlsplit(cfg.fleet.server.split(",")[0]).port or 4222
    text = server_config(accounts, listen or f"0.0.0.0:{port}", (store or folder / "jetstream").resolve())
    _write_private(result.conf, text)
    return result


def server_config(accounts: dict, listen: str, store: Path) -> str:
    """nats-server's configuration: JetStream on, the district's user, one least-privilege user per station."""
    lines = ["# written by `broadcaster fleet init`; run it again to add stations (passwords are bcrypt hashes)",
             f"listen: {listen}", "server_name: district",
             f"jetstream {{ store_dir: {json.dumps(str(store))}, max_memory_store: 64MB }}",
             "max_payload: 1MB", "authorization {", "  users = ["]
    lines.append(f"    {{ user: {DISTRICT_USER}, password: {json.dumps(accounts['district'])} }}")
    for s, pw in sorted(accounts["stations"].items()):
        perms = station_permissions(s)
        pub = ", ".join(json.dumps(x) for x in perms["publish"])
        sub = ", ".join(json.dumps(x) for x in perms["subscribe"])
        lines.append(f"    {{ user: {json.dumps(s)}, password: {json.dumps(pw)}, permissions: {{"
                     f" publish: {{ allow: [{pub}] }}, subscribe: {{ allow: [{sub}] }} }} }}")
    lines += ["  ]", "}", ""]
    return "\n".join(lines)
