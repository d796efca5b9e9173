"""`broadcaster fleet init`: a hub's account on the message server, one user per station below it,
the hub's signing key. Run again, it adds new stations and keeps the existing ones' passwords.

Every hub has its own NATS account, so the server keeps the communes apart, not our code: a
commune's stations (its clusters) are users in the commune's account and see nothing of another
commune's. The hub at the top (a province, or the seed's district) runs the server, one node or a
cluster of three; a hub below it (a commune) has its account on those same servers: its `fleet
init` writes ``account.json`` (names and bcrypt hashes, no password), which the hub above puts in
its ``state/fleet/accounts/`` before running its own `fleet init`. Each account exports its command,
audio and live-voice subjects to the account above it, so the top can reach a commune's clusters directly.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from broadcaster.config import Config, display_path
from broadcaster.errors import ConfigError
from broadcaster.fleet.credentials import fleet_dir, hub_files, station_file_text, toml_string, up_credentials
from broadcaster.fleet.names import (UP_API, UP_STREAMS, down_audio_subject, down_live_subject, down_now_subject,
                                     down_subject, hub_user, station_permissions)
from broadcaster.fleet.signing import new_private_key, public_key
from broadcaster.fsutil import atomic_write_bytes, private_dir, private_file
from broadcaster.i18n import _

SERVER_CONF = "nats-server.conf"
ACCOUNT_FILE = "account.json"     # a hub below the top: what the top's server needs to know of it
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
EXPORTED = ("cmd", "audio", "live", "now")   # what each account lets the one above send into it: commands, their
                                             # audio, voice, and commands on core NATS
_BCRYPT = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")


@dataclass
class InitResult:
    folder: Path
    conf: Path | None = None                       # the top: the server's config (the first, with a cluster)
    confs: list[Path] = field(default_factory=list)
    account_file: Path | None = None               # below the top: the file to hand up
    added: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    station_files: dict[str, Path] = field(default_factory=dict)
    accounts: list[str] = field(default_factory=list)   # the accounts the server config holds


def _hash(password: str) -> str:
    import bcrypt
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(11)).decode()


def _write_private(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
    private_file(path)
    path.chmod(0o600)


def init_fleet(cfg: Config, *, listen: str | None = None, store: Path | None = None, bind: str = "0.0.0.0",
               route_ports: list[int] | None = None) -> InitResult:
    stations = cfg.stations()
    if cfg.fleet is None or not stations:
        raise ConfigError(_("fleet init is for a hub: no zone names a station"),
                          hint=_('add station = "ID" to the zones the stations below play, e.g. [zones.cum_1], '
                                 'and [fleet] server = "nats://HOST:4222"'))
    name = cfg.fleet.name
    folder = private_dir(fleet_dir(cfg))
    private_dir(folder / "stations")
    accounts_path = folder / "accounts.json"
    accounts = json.loads(accounts_path.read_text()) if accounts_path.is_file() else {"stations": {}}
    result = InitResult(folder)
    old_creds, old_key = hub_files(folder)
    creds_path, key_path = folder / "hub.toml", folder / "hub.key"
    if old_key != key_path and old_key.is_file():   # written by an older version as district.*
        old_key.replace(key_path)
        old_creds.unlink(missing_ok=True)
    if not key_path.is_file():
        _write_private(key_path, new_private_key() + "\n")
    keys = {name: public_key(key_path.read_text().strip())}
    parent = None
    if cfg.fleet.is_station:   # a hub below another: the hubs above are trusted by our stations too
        up = up_credentials(cfg)
        parent = up.hub
        keys.update({k: v for k, v in up.keys.items() if k != name})
    user = hub_user(name)
    if accounts.get("hub_user") != user or not creds_path.is_file():
        password = secrets.token_urlsafe(24)
        accounts["hub"], accounts["hub_user"] = _hash(password), user
        accounts.pop("district", None)
        _write_private(creds_path, f"user = {toml_string(user)}\npassword = {toml_string(password)}\n")
    for s in stations:
        if s in accounts["stations"]:
            result.kept.append(s)
            continue
        password = secrets.token_urlsafe(24)
        accounts["stations"][s] = _hash(password)
        path = folder / "stations" / f"{s}.toml"
        _write_private(path, station_file_text(s, password, cfg.fleet.server, name, keys))
        result.station_files[s] = path
        result.added.append(s)
    _write_private(accounts_path, json.dumps(accounts, indent=1))
    mine = {"account": name, "parent": parent, "hub_user": user, "hub": accounts["hub"],
            "stations": accounts["stations"]}
    if parent is not None:
        result.account_file = folder / ACCOUNT_FILE
        _write_private(result.account_file, json.dumps(mine, indent=1))
        return result
    everyone = {name: mine, **read_accounts_below(folder / "accounts", name)}
    result.accounts = list(everyone)
    servers = cfg.fleet.servers
    ports = [urlsplit(u).port or 4222 for u in servers]
    hosts = [urlsplit(u).hostname or "127.0.0.1" for u in servers]
    routes = route_ports or [p + 2000 for p in ports]
    if len(routes) != len(servers):
        raise ConfigError(_("{count} route port(s) for {servers} server(s)", count=len(routes), servers=len(servers)),
                          hint=_("give one --route-port per address in [fleet] server"))
    for i, (host, port) in enumerate(zip(hosts, ports)):
        cluster = None
        if len(servers) > 1:
            cluster = {"name": name, "listen": f"{bind}:{routes[i]}",
                       "routes": [f"nats-route://{h}:{r}" for h, r in zip(hosts, routes)]}
        where = (store or folder).resolve() / ("jetstream" if len(servers) == 1 else f"jetstream-{i + 1}")
        text = server_config(everyone, listen or f"{bind}:{port}",
                             where, server_name=name if len(servers) == 1 else f"{name}-{i + 1}", cluster=cluster)
        path = folder / (SERVER_CONF if len(servers) == 1 else f"nats-server-{i + 1}.conf")
        _write_private(path, text)
        result.confs.append(path)
    result.conf = result.confs[0]
    return result


def read_accounts_below(folder: Path, top: str) -> dict[str, dict]:
    """The account files handed up by the hubs below (``accounts/*.json``), each checked: they come from
    below, so nothing in them is taken but ids and bcrypt hashes, and every user name must be unique."""
    found: dict[str, dict] = {}
    users = {hub_user(top)}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        where = display_path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise ConfigError(_("cannot read {file}: {reason}", file=where, reason=e), where=where,
                              hint=_("ask the hub below for its state/fleet/account.json again")) from None
        ok = (isinstance(doc, dict) and isinstance(doc.get("account"), str) and _ID.match(doc["account"])
              and isinstance(doc.get("parent"), str) and _ID.match(doc["parent"])
              and doc.get("hub_user") == hub_user(doc["account"]) and isinstance(doc.get("hub"), str)
              and _BCRYPT.match(doc["hub"]) and isinstance(doc.get("stations"), dict)
              and all(isinstance(k, str) and _ID.match(k) and isinstance(v, str) and _BCRYPT.match(v)
                      for k, v in doc["stations"].items()))
        if not ok:
            raise ConfigError(_("{file} is not an account file written by `broadcaster fleet init`", file=where),
                              where=where, hint=_("ask the hub below for its state/fleet/account.json again"))
        if doc["account"] == top or doc["account"] in found:
            raise ConfigError(_('two accounts are named "{name}"', name=doc["account"]), where=where,
                              hint=_("each hub needs its own id ([fleet] id or station)"))
        clash = sorted(({doc["hub_user"], *doc["stations"]}) & users)
        if clash:
            raise ConfigError(_("{file} names {users}, already a user of another account", file=where,
                                users=", ".join(clash)),
                              where=where, hint=_("station ids must be unique across the whole network: rename one"))
        users |= {doc["hub_user"], *doc["stations"]}
        found[doc["account"]] = {k: doc[k] for k in ("account", "parent", "hub_user", "hub", "stations")}
    for name, doc in found.items():
        if doc["parent"] != top and doc["parent"] not in found:
            raise ConfigError(_('the account "{name}" belongs under "{parent}", which is not here', name=name,
                                parent=doc["parent"]), where=display_path(folder / f"{name}.json"),
                              hint=_("put the account file of that hub in the same folder"))
    return found


def server_config(accounts: dict[str, dict], listen: str, store: Path, *, server_name: str,
                  cluster: dict | None = None) -> str:
    """nats-server's configuration: JetStream on, an account per hub with its own user and one
    least-privilege user per station; each account exports its command subjects to the one above."""
    q = json.dumps
    lines = ["# written by `broadcaster fleet init`; run it again to add stations or accounts (passwords are bcrypt "
             "hashes)", f"server_name: {q(server_name)}", f"listen: {listen}",
             f"jetstream {{ store_dir: {q(str(store))}, max_memory_store: 256MB }}", "max_payload: 4MB"]
    if cluster:
        lines.append(f"cluster {{ name: {q(cluster['name'])}, listen: {cluster['listen']}, "
                     f"routes: [{', '.join(q(r) for r in cluster['routes'])}] }}")
    lines.append("accounts {")
    for name, acc in accounts.items():
        users = [f"{{ user: {q(acc['hub_user'])}, password: {q(acc['hub'])} }}"]
        for s, pw in sorted(acc["stations"].items()):
            perms = station_permissions(s)
            pub = ", ".join(q(x) for x in perms["publish"])
            sub = ", ".join(q(x) for x in perms["subscribe"])
            users.append(f"{{ user: {q(s)}, password: {q(pw)}, permissions: {{ publish: {{ allow: [{pub}] }}, "
                         f"subscribe: {{ allow: [{sub}] }} }} }}")
        children = [c for c, a in accounts.items() if a.get("parent") == name]
        lines.append(f"  {q(name)}: {{")
        lines.append("    jetstream: enabled")
        lines.append("    users: [")
        lines += [f"      {u}" for u in users]
        lines.append("    ]")
        exports = [f"{{ service: \"bc.{kind}.*\", accounts: [{q(acc['parent'])}] }}" for kind in EXPORTED
                   if acc.get("parent")]
        exports += [f"{{ service: \"$JS.API.DIRECT.GET.{x}{t}\", accounts: [{', '.join(map(q, children))}] }}"
                    for x in UP_STREAMS for t in ("", ".>") if children]   # its audio, read by the stations below
                    # (by subject, and the next message after a sequence: an object's chunks)
        if exports:
            lines.append("    exports: [ " + ", ".join(exports) + " ]")
        ups = [f"      {{ service: {{ account: {q(acc['parent'])}, subject: \"$JS.API.DIRECT.GET.{x}{t}\" }}, "
               f"to: \"{UP_API}.DIRECT.GET.{x}{t}\" }}" for x in UP_STREAMS for t in ("", ".>")
               if acc.get("parent") in accounts]
        if children or ups:
            lines.append("    imports: [")
            lines += ups
            for c in children:
                for kind, to in (("cmd", down_subject), ("audio", down_audio_subject), ("live", down_live_subject),
                                 ("now", down_now_subject)):
                    lines.append(f"      {{ service: {{ account: {q(c)}, subject: \"bc.{kind}.*\" }}, to: {q(to(c, '*'))} }}")
            lines.append("    ]")
        lines.append("  }")
    lines += ["}", ""]
    return "\n".join(lines)
