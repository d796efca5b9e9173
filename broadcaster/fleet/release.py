"""New versions of broadcaster itself, sent down the tree as programmes are: signed, staged, stopped.

`fleet release FILE` at a hub signs the release (a wheel or an sdist of broadcaster: its name, version,
SHA-256 and size, and how long a station may take to come up healthy on it), puts the file in the
hub's object store and writes the signed release under each targeted station's key of ``bc_release``.
A rollout goes in stages: a group (or a share) of the stations first, the rest when the hub is told
(`fleet release promote`) or by a rule (all of the first stage healthy for some hours). The hub's
daemon watches the stations' heartbeats: when a set share of the targeted stations failed (rolled
back or refused it), the rollout stops, and the release is taken back from those that have not
started it. What a station does with a release is ``fleet.update``'s.

The rollout's record is ``state/fleet/rollout.json`` at the hub, written under the project's lock.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
import zlib
from datetime import datetime
from pathlib import Path

from broadcaster.config import Config
from broadcaster.errors import ConfigError, RefusedError
from broadcaster.fleet import names
from broadcaster.fleet.credentials import fleet_dir
from broadcaster.fleet.signing import check_format, sign, verify
from broadcaster.fsutil import atomic_write_bytes, project_lock, sha256_file
from broadcaster.i18n import _

KIND = "broadcaster-release"
FORMAT = 1
MAX_SIZE = 200 * 1024 * 1024           # bytes of one release file
TRIAL = (60, 7 * 24 * 3600)            # seconds a station may take to come up healthy: bounds
QUIET = (5, 3600)                      # seconds before an airing in which a station does not restart: bounds
FAILED = ("rolled_back", "refused")    # a station's update states that count against a rollout
_FILE = re.compile(r"^broadcaster-(?P<version>\d[0-9A-Za-z.!+_]*)(-py[0-9A-Za-z._-]+\.whl|\.tar\.gz)$")
_SHA = re.compile(r"^[0-9a-f]{64}$")


def file_version(name: str) -> str:
    """The version a release file's name carries (``broadcaster-1.2.0-py3-none-any.whl``); ConfigError."""
    from packaging.version import InvalidVersion, Version
    m = _FILE.match(name)
    try:
        if m:
            return str(Version(m.group("version")))
    except InvalidVersion:
        pass
    raise ConfigError(_("{file} is not a release of broadcaster", file=name),
                      hint=_("give a wheel or an sdist built from this project: broadcaster-VERSION-py3-none-any.whl "
                             "or broadcaster-VERSION.tar.gz"))


def newer(a: str, b: str) -> bool:
    """Whether version ``a`` comes after version ``b``."""
    from packaging.version import InvalidVersion, Version
    try:
        return Version(a) > Version(b)
    except InvalidVersion:
        return False


def make_release(path: Path, *, signing_key: str, by: str, now: datetime, trial: int, quiet: int) -> dict:
    size = path.stat().st_size
    if size > MAX_SIZE:
        raise ConfigError(_("{file} is {size} MB; a release is at most {max} MB", file=path.name,
                            size=size // 2**20, max=MAX_SIZE // 2**20))
    doc = {"kind": KIND, "format": FORMAT, "id": uuid.uuid4().hex, "version": file_version(path.name),
           "file": path.name, "sha256": sha256_file(path), "size": size, "by": by,
           "issued": now.isoformat(timespec="seconds"), "trial": trial, "quiet": quiet}
    return sign(doc, signing_key)


def read_release(data: bytes, keys: dict[str, str]) -> dict:
    """The release in ``data``, signed by a hub in ``keys`` (``doc["signer"]`` says which), and of a
    shape this version reads; RefusedError otherwise."""
    what = _("the release")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RefusedError(_("{what} is not valid JSON (a truncated or damaged transfer)", what=what)) from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise RefusedError(_("{what} is not a broadcaster release", what=what))
    signer = verify(doc, keys, what)
    check_format(doc, FORMAT, what)
    name, trial, quiet = doc.get("file"), doc.get("trial"), doc.get("quiet")
    ok = (isinstance(name, str) and _FILE.match(name) and _SHA.match(str(doc.get("sha256")))
          and isinstance(doc.get("size"), int) and 0 < doc["size"] <= MAX_SIZE and isinstance(doc.get("id"), str)
          and isinstance(trial, int) and TRIAL[0] <= trial <= TRIAL[1]
          and isinstance(quiet, int) and QUIET[0] <= quiet <= QUIET[1])
    if not ok or file_version_or_none(name) != doc.get("version"):
        raise RefusedError(_("{what} is malformed", what=what))
    return {**doc, "signer": signer}


def file_version_or_none(name: str) -> str | None:
    try:
        return file_version(name)
    except ConfigError:
        return None


# --- the rollout, at the hub ---------------------------------------------------------------------

def rollout_path(cfg: Config) -> Path:
    return fleet_dir(cfg) / "rollout.json"


def read_rollout(cfg: Config) -> dict | None:
    try:
        r = json.loads(rollout_path(cfg).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return r if isinstance(r, dict) and isinstance(r.get("release"), dict) else None


def save_rollout(cfg: Config, rollout: dict) -> None:
    atomic_write_bytes(rollout_path(cfg), json.dumps(rollout, ensure_ascii=False, indent=1).encode())


def first_stage(cfg: Config, to: str) -> list[str]:
    """The stations a rollout goes to first: ``all``, ``group:NAME`` (the stations playing the zones of
    [groups] NAME) or ``N%`` (that share, the same stations every time, spread by name)."""
    stations = cfg.stations()
    if to == "all":
        return stations
    if to.startswith("group:"):
        name = to[len("group:"):]
        if name not in cfg.groups:
            raise ConfigError(_("no group {group} in [groups]", group=name),
                              hint=_("groups: {names}", names=", ".join(sorted(cfg.groups)) or "-"))
        zones = set(cfg.groups[name])
        chosen = [s for s in stations if zones & set(cfg.zones_of(s))]
        if not chosen:
            raise ConfigError(_("group {group} has no zone played by a station below this hub", group=name))
        return chosen
    m = re.fullmatch(r"(\d{1,3})%", to)
    if m and 0 < int(m.group(1)) <= 100:
        count = math.ceil(len(stations) * int(m.group(1)) / 100)
        return sorted(sorted(stations, key=lambda s: zlib.crc32(s.encode()))[:count])
    raise ConfigError(_("--to must be all, group:NAME or a share like 10%, not {value}", value=to))


def new_rollout(cfg: Config, doc: dict, file: Path, first: list[str], *, stop_share: float,
                promote_after: float | None) -> dict:
    rest = [s for s in cfg.stations() if s not in first]
    return {"release": doc, "file": str(file), "stages": [first, rest] if rest else [first], "stage": 0,
            "stop_share": stop_share, "promote_after": promote_after, "stopped": None, "started": time.time(),
            "promoted": None}


def targets(rollout: dict) -> list[str]:
    """The stations the release has been sent to so far (its stages up to the current one)."""
    return [s for stage in rollout["stages"][:rollout["stage"] + 1] for s in stage]


def station_update(state: dict | None, version: str) -> str:
    """Where a station stands with ``version``, from its heartbeat: running, failed, trying, waiting."""
    st = state or {}
    up = st.get("update") if isinstance(st.get("update"), dict) else {}
    if up.get("version") == version and up.get("state") in FAILED:
        return "failed"
    if st.get("software") == version:
        return "healthy" if up.get("state") in ("healthy", None) or up.get("version") != version else "trying"
    return "waiting"


def tally(rollout: dict, states: dict[str, dict]) -> dict[str, list[str]]:
    """The targeted stations by where they stand (``station_update``)."""
    out: dict[str, list[str]] = {"healthy": [], "trying": [], "waiting": [], "failed": []}
    version = rollout["release"]["version"]
    for s in targets(rollout):
        out[station_update(states.get(s), version)].append(s)
    return out


def review(rollout: dict, states: dict[str, dict], now: float) -> str | None:
    """What the hub does next by itself: "stop" (too many failed), "promote" (the first stage healthy
    for long enough) or None. Changes nothing."""
    if rollout.get("stopped") or rollout.get("done"):
        return None
    t = tally(rollout, states)
    sent = len(targets(rollout))
    if t["failed"] and len(t["failed"]) >= max(1, math.ceil(rollout["stop_share"] * sent)):
        return "stop"
    after = rollout.get("promote_after")
    if (after is not None and rollout["stage"] + 1 < len(rollout["stages"]) and len(t["healthy"]) == sent
            and now - max(_healthy_since(states.get(s)) for s in targets(rollout)) >= after):
        return "promote"
    return None


def _healthy_since(state: dict | None) -> float:
    up = (state or {}).get("update")
    since = up.get("since") if isinstance(up, dict) else None
    return since if isinstance(since, (int, float)) else time.time()


def stop_reason(rollout: dict, states: dict[str, dict]) -> str:
    t = tally(rollout, states)
    reasons = sorted({str(((states.get(s) or {}).get("update") or {}).get("reason") or "?") for s in t["failed"]})
    return _("{failed} of {sent} station(s) failed with version {version}: {reasons}", failed=len(t["failed"]),
             sent=len(targets(rollout)), version=rollout["release"]["version"], reasons="; ".join(reasons)[:500])


def begin(cfg: Config, rollout: dict) -> None:
    """This hub's rollout from now on (the one before, if any, ends)."""
    with project_lock(cfg.path):
        save_rollout(cfg, rollout)


def promote(cfg: Config, now: float) -> dict | None:
    """The rollout's next stage: the release goes on to the rest of the stations."""
    return change(cfg, lambda x: x.update(stage=x["stage"] + 1, promoted=now))


def change(cfg: Config, how) -> dict | None:
    """Change the rollout record under the project's lock: ``how(rollout)`` edits it in place (or
    returns a new one); the record as saved, or None when there is none."""
    with project_lock(cfg.path):
        r = read_rollout(cfg)
        if r is None:
            return None
        r = how(r) or r
        save_rollout(cfg, r)
        return r


async def apply(link, cfg: Config, rollout: dict, states: dict[str, dict] | None = None) -> None:
    """Make the server say what the rollout says: the file in the store, the signed release under each
    targeted station's key; once stopped, taken back from those not running it or trying it."""
    doc = {k: v for k, v in rollout["release"].items() if k != "signer"}
    raw = json.dumps(doc, ensure_ascii=False).encode()
    sent = targets(rollout)
    if rollout.get("stopped"):
        t = tally(rollout, states or {})
        await take_back(link, [s for s in sent if s not in {*t["healthy"], *t["trying"]}])
        return
    if not await link.has_object(doc["sha256"]):
        path = Path(rollout["file"])
        if not path.is_file() or sha256_file(path) != doc["sha256"]:
            raise ConfigError(_("the release file {file} is gone or changed", file=path))
        await link.put_object(doc["sha256"], path)
    for s in sent:
        if await link.kv_get(names.RELEASES, s) != raw:
            await link.kv_put(names.RELEASES, s, raw)


async def take_back(link, stations: list[str]) -> None:
    """The release under these stations' keys taken back (a station that has not switched yet leaves it)."""
    for s in stations:
        if await link.kv_get(names.RELEASES, s) is not None:
            await link.kv_put(names.RELEASES, s, None)

