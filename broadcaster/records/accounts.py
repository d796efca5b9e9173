"""People and their rights: accounts, their sessions, the audit trail of who did what, and throttled log-ins.

What each role may do is the one table ``RIGHTS``; the console checks it on the server for every
request, the commands for what they do on a person's behalf. Passwords are hashed with Argon2id.

A console session lives here, not only in its cookie: the cookie carries a random token, the
database its hash, the account's never-reused id and when it was last used. Logging out, removing
the account, or changing its role or password deletes the row, so an old cookie opens nothing.
"""

from __future__ import annotations

import hashlib
import re
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from broadcaster.errors import BroadcasterError, ConfigError
from broadcaster.i18n import N_, _
from broadcaster.records.db import Database, Duplicate

DB_NAME = "accounts.sqlite3"
ROLES = ("admin", "approver", "editor", "technician", "viewer")
ROLE_WORDS = {"admin": N_("administrator"), "approver": N_("approver"), "editor": N_("editor"),
              "technician": N_("technician"), "viewer": N_("viewer")}
# what each role may do: the one place it is decided
RIGHTS: dict[str, frozenset[str]] = {
    "view": frozenset(ROLES),                              # overview, schedule, bulletins, log, report
    "edit": frozenset({"admin", "editor"}),                # edit scripts, render, submit for approval
    "approve": frozenset({"admin", "approver"}),           # approve or send back (never one's own edit)
    "play": frozenset({"admin", "technician"}),            # play now, any priority
    "speak": frozenset({"admin", "technician"}),           # speak live on the loudspeakers
    "users": frozenset({"admin"}),                         # accounts
}
RIGHT_WORDS = {"view": N_("see everything"), "edit": N_("edit and render scripts, submit them"),
               "approve": N_("approve or send back"), "play": N_("play now"), "speak": N_("speak live"),
               "users": N_("manage accounts")}
# Log-in throttling. One person mistyping (or someone who wants to keep the duty technician out
# during a storm warning) must not lock an office that shares one address behind its router:
# failures count per account *and* address, with a wait that doubles from FREE_TRIES on; an
# address is paused as a whole only when it fails against SPRAY_ACCOUNTS different accounts.
FREE_TRIES = 3            # wrong passwords for one account from one address before the first wait
FIRST_WAIT = 5            # seconds; doubles with each further failure, up to WINDOW
SPRAY_ACCOUNTS = 5        # different accounts failed from one address in WINDOW: the address waits WINDOW
WINDOW = 15 * 60
_NAME = re.compile(r"^[a-z0-9_.-]{2,32}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hash TEXT NOT NULL,
    created REAL NOT NULL,
    epoch INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    uid TEXT NOT NULL,
    created REAL NOT NULL,
    seen REAL NOT NULL,
    address TEXT
);
CREATE TABLE IF NOT EXISTS tokens (
    token_sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    places TEXT,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    user TEXT,
    address TEXT,
    action TEXT NOT NULL,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS failures (key TEXT NOT NULL, time REAL NOT NULL);
CREATE INDEX IF NOT EXISTS failures_key ON failures (key, time);
CREATE INDEX IF NOT EXISTS failures_time ON failures (time);
CREATE TABLE IF NOT EXISTS approvals (
    id INTEGER PRIMARY KEY,
    bulletin TEXT NOT NULL,
    script_sha256 TEXT NOT NULL,
    state TEXT NOT NULL,
    editor TEXT,
    approver TEXT,
    comment TEXT,
    audio TEXT,
    time REAL NOT NULL,
    text TEXT
);
CREATE INDEX IF NOT EXISTS approvals_bulletin ON approvals (bulletin, id);
"""
# columns added since older files were made: uid is the account's id, random, never reused (a
# removed name added again is another account); failures say which account and address
MIGRATIONS = (("users", "uid", "TEXT"), ("failures", "name", "TEXT"), ("failures", "address", "TEXT"),
              ("users", "places", "TEXT"), ("approvals", "slots", "TEXT"))
SEEN_EVERY = 30           # seconds: a session's last use is written at most this often


class AccessError(BroadcasterError):
    """Someone tried what their role does not allow, or gave wrong credentials."""

    exit_code = 1


@dataclass(frozen=True)
class User:
    name: str
    role: str
    uid: str
    places: tuple[str, ...] = ()   # zone ids and "group:NAME" it may act on; () = everywhere

    def may(self, right: str) -> bool:
        return self.role in RIGHTS[right]


def _user(r) -> User:
    return User(r[0], r[1], r[2], tuple(p for p in (r[3] or "").split(",") if p))


@dataclass(frozen=True)
class Approval:
    id: int
    bulletin: str
    script_sha256: str
    state: str          # submitted | approved | returned
    editor: str | None
    approver: str | None
    comment: str | None
    audio: str | None   # the approved audio kept aside (state/approved/…)
    time: float
    text: str | None    # the script as submitted (to show what changed since)
    slots: str | None = None   # JSON: the keys of its slots as submitted (approval.slot_key); None: made before


def _hasher():
    from argon2 import PasswordHasher
    return PasswordHasher()   # Argon2id with argon2-cffi's current recommended parameters


class Accounts:
    def __init__(self, state: Path):
        self.store = Database(state / DB_NAME, SCHEMA, MIGRATIONS, what=_("the accounts"))
        for (name,) in self.store.read("SELECT name FROM users WHERE uid IS NULL"):
            self.store.write("UPDATE users SET uid=? WHERE name=? AND uid IS NULL", (_new_uid(), name))

    def close(self) -> None:
        self.store.close()

    # --- accounts ---------------------------------------------------------------

    def add(self, name: str, role: str, password: str, places: tuple[str, ...] = ()) -> None:
        check_name(name)
        check_role(role)
        check_password(password)
        try:
            self.store.write("INSERT INTO users (name, role, hash, created, uid, places) VALUES (?,?,?,?,?,?)",
                             (name, role, _hasher().hash(password), time.time(), _new_uid(),
                              ",".join(places) or None))
        except Duplicate:
            raise ConfigError(_('there is already an account "{name}"', name=name)) from None

    def users(self) -> list[User]:
        return [_user(r) for r in self.store.read("SELECT name, role, uid, places FROM users ORDER BY name")]

    def get(self, name: str) -> User | None:
        r = self.store.one("SELECT name, role, uid, places FROM users WHERE name=?", (name,))
        return _user(r) if r else None

    def set_places(self, name: str, places: tuple[str, ...]) -> None:
        """Limit the account to some zones and groups (() for everywhere); its sessions end."""
        self._change(name, "UPDATE users SET places=?, epoch=epoch+1 WHERE name=?", (",".join(places) or None, name))

    def set_password(self, name: str, password: str) -> None:
        """A new password; every session of the account ends."""
        check_password(password)
        self._change(name, "UPDATE users SET hash=?, epoch=epoch+1 WHERE name=?", (_hasher().hash(password), name))

    def set_role(self, name: str, role: str) -> None:
        """Another role; every session of the account ends (it logs in again with the new rights)."""
        check_role(role)
        self._change(name, "UPDATE users SET role=?, epoch=epoch+1 WHERE name=?", (role, name))

    def remove(self, name: str) -> None:
        self._change(name, "DELETE FROM users WHERE name=?", (name,))

    def _change(self, name: str, sql: str, args: tuple) -> None:
        with self.store.transaction() as db:
            r = db.execute("SELECT uid FROM users WHERE name=?", (name,)).fetchone()
            if r is not None:
                db.execute(sql, args)
                db.execute("DELETE FROM sessions WHERE uid=?", (r[0],))
        if r is None:
            raise ConfigError(_('there is no account "{name}"', name=name))

    # --- sessions -----------------------------------------------------------------

    def open_session(self, user: User, address: str, now: float) -> str:
        """A new session for ``user``: the token for the cookie (only its hash is kept)."""
        token = secrets.token_urlsafe(32)
        self.store.write("INSERT INTO sessions (token_sha256, uid, created, seen, address) VALUES (?,?,?,?,?)",
                         (_digest(token), user.uid, now, now, address))
        return token

    def session_user(self, token: str, idle: float, now: float) -> User | None:
        """The account a session token belongs to, if the session is open and was used within ``idle`` s."""
        if not token or not isinstance(token, str):
            return None
        key = _digest(token)
        r = self.store.one("SELECT u.name, u.role, u.uid, u.places, s.seen FROM sessions s JOIN users u"
                           " ON u.uid = s.uid WHERE s.token_sha256=?", (key,))
        if r is None:
            return None
        if now - r[4] > idle:
            self.store.write("DELETE FROM sessions WHERE token_sha256=?", (key,))
            return None
        if now - r[4] > SEEN_EVERY:
            self.store.write("UPDATE sessions SET seen=? WHERE token_sha256=?", (now, key))
        return _user(r)

    def end_session(self, token: str) -> None:
        self.store.write("DELETE FROM sessions WHERE token_sha256=?", (_digest(token),))

    def forget_idle_sessions(self, idle: float, now: float) -> None:
        self.store.write("DELETE FROM sessions WHERE seen < ?", (now - idle,))

    # --- API tokens: for the provincial system and other programs ------------------------

    def add_token(self, name: str, role: str, places: tuple[str, ...] = ()) -> str:
        """A new bearer token for a program: returned once; only its SHA-256 is kept."""
        check_name(name)
        check_role(role)
        token = "bct_" + secrets.token_urlsafe(32)
        try:
            self.store.write("INSERT INTO tokens (token_sha256, name, role, places, created) VALUES (?,?,?,?,?)",
                             (_digest(token), name, role, ",".join(places) or None, time.time()))
        except Duplicate:
            raise ConfigError(_('there is already a token "{name}"', name=name)) from None
        return token

    def tokens(self) -> list[User]:
        return [_user((f"token:{r[0]}", *r[1:])) for r in
                self.store.read("SELECT name, role, token_sha256, places FROM tokens ORDER BY name")]

    def remove_token(self, name: str) -> None:
        if self.store.write("DELETE FROM tokens WHERE name=?", (name,)).rowcount == 0:
            raise ConfigError(_('there is no token "{name}"', name=name))

    def token_user(self, token: str) -> User | None:
        """The program a bearer token belongs to (as a User named token:NAME), or None."""
        if not token:
            return None
        r = self.store.one("SELECT name, role, token_sha256, places FROM tokens WHERE token_sha256=?",
                           (_digest(token),))
        return _user((f"token:{r[0]}", *r[1:])) if r else None

    # --- log-in ---------------------------------------------------------------------

    def login_wait(self, name: str, address: str, now: float) -> float:
        """Seconds before ``name`` may try again from ``address`` (0: now)."""
        since = now - WINDOW
        n, last = self.store.one("SELECT count(*), max(time) FROM failures WHERE name=? AND address=? AND time>?",
                                 (name, address, since))
        wait = 0.0
        if n >= FREE_TRIES:
            wait = last + min(FIRST_WAIT * 2 ** (n - FREE_TRIES), WINDOW) - now
        names, last_any = self.store.one("SELECT count(DISTINCT name), max(time) FROM failures"
                                         " WHERE address=? AND time>?", (address, since))
        if names >= SPRAY_ACCOUNTS:
            wait = max(wait, last_any + WINDOW - now)
        return max(0.0, wait)

    def authenticate(self, name: str, password: str, address: str, now: float | None = None) -> User:
        """The user, if the password is right and this account is not waiting at this address."""
        now = time.time() if now is None else now
        wait = self.login_wait(name, address, now)
        if wait > 0:
            raise AccessError(_("too many failed log-ins for {name} from this address: wait {wait} and try again",
                                name=name, wait=_wait_words(wait)))
        r = self.store.one("SELECT hash FROM users WHERE name=?", (name,))
        ok = False
        if r:
            from argon2.exceptions import VerificationError, InvalidHashError
            try:
                ok = _hasher().verify(r[0], password)
            except (VerificationError, InvalidHashError):
                ok = False
        else:
            _hasher().hash(password)   # the same time spent whether or not the account exists
        if not ok:
            with self.store.transaction() as db:
                db.execute("INSERT INTO failures (key, time, name, address) VALUES (?,?,?,?)",
                           (f"{name}@{address}", now, name, address))
                db.execute("DELETE FROM failures WHERE time < ?", (now - 2 * WINDOW,))
            raise AccessError(_("wrong name or password"))
        self.store.write("DELETE FROM failures WHERE name=? AND address=?", (name, address))
        return self.get(name)

    # --- who did what -------------------------------------------------------------

    def audit(self, user: str | None, address: str | None, action: str, detail: str = "") -> None:
        self.store.write("INSERT INTO audit (time, user, address, action, detail) VALUES (?,?,?,?,?)",
                         (time.time(), user, address, action, detail))

    def trail(self, limit: int = 200) -> list[tuple]:
        return self.store.read("SELECT time, user, address, action, detail FROM audit ORDER BY id DESC LIMIT ?",
                               (limit,))

    # --- approvals ----------------------------------------------------------------

    def submit(self, bulletin: str, script_sha256: str, editor: str, text: str | None = None,
               slots: list[str] | None = None) -> None:
        self.store.write("INSERT INTO approvals (bulletin, script_sha256, state, editor, time, text, slots)"
                         " VALUES (?,?,?,?,?,?,?)", (bulletin, script_sha256, "submitted", editor, time.time(), text,
                                                      json.dumps(sorted(slots)) if slots is not None else None))

    def may_decide(self, bulletin: str, script_sha256: str, approver: str) -> Approval:
        """The submission ``approver`` may decide on (the script as it is now), or AccessError saying why not."""
        sub = self.latest(bulletin)
        if sub is None or sub.state != "submitted" or sub.script_sha256 != script_sha256:
            raise AccessError(_("this version of {bulletin} was not submitted for approval (or has changed since)",
                                bulletin=bulletin))
        if sub.editor == approver:
            raise AccessError(_("nobody approves their own edit: another approver must do it"))
        return sub

    def decide(self, bulletin: str, script_sha256: str, approver: str, approve: bool, comment: str = "",
               audio: str | None = None) -> Approval:
        sub = self.may_decide(bulletin, script_sha256, approver)
        self.store.write("INSERT INTO approvals (bulletin, script_sha256, state, editor, approver, comment, audio,"
                         " time, text, slots) VALUES (?,?,?,?,?,?,?,?,?,?)",
                         (bulletin, script_sha256, "approved" if approve else "returned", sub.editor, approver,
                          comment, audio, time.time(), sub.text, sub.slots))
        return self.latest(bulletin)

    def latest(self, bulletin: str) -> Approval | None:
        r = self.store.one("SELECT * FROM approvals WHERE bulletin=? ORDER BY id DESC LIMIT 1", (bulletin,))
        return Approval(*r) if r else None

    def approved(self, bulletin: str) -> Approval | None:
        r = self.store.one("SELECT * FROM approvals WHERE bulletin=? AND state='approved' ORDER BY id DESC LIMIT 1",
                           (bulletin,))
        return Approval(*r) if r else None

    def history(self, bulletin: str) -> list[Approval]:
        return [Approval(*r) for r in self.store.read("SELECT * FROM approvals WHERE bulletin=? ORDER BY id DESC",
                                                      (bulletin,))]


def _new_uid() -> str:
    return secrets.token_hex(16)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _wait_words(seconds: float) -> str:
    if seconds < 120:
        return _("{n} s", n=int(seconds) + 1)
    return _("{n} min", n=int(seconds // 60) + 1)


def allowed_zones(user: User, zones: dict, groups: dict) -> set[str]:
    """The zones ``user`` may act on: every zone, or those of its places (zone ids and groups, expanded)."""
    if not user.places:
        return set(zones)
    from broadcaster.config.places import expand_targets
    return set(expand_targets(list(user.places), zones, groups)[0])


def parse_places(text: str, zones: dict, groups: dict) -> tuple[str, ...]:
    """Places as a person types them ("group:thon_1, cum_3"; empty: everywhere), each checked against the project."""
    from broadcaster.config.places import expand_targets
    places = tuple(dict.fromkeys(p.strip() for p in (text or "").split(",") if p.strip()))
    _ids, unknown = expand_targets(list(places), zones, groups)
    if unknown:
        raise ConfigError(_("{places}: no such zone or group (write zone ids, or group:NAME from [groups])",
                            places=", ".join(unknown)))
    return places


def check_name(name: str) -> None:
    if not _NAME.match(name or ""):
        raise ConfigError(_("an account name is 2 to 32 of a-z, 0-9, '.', '-' and '_', not {name}", name=repr(name)))


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ConfigError(_("the role must be one of {roles}, not {role}", roles=", ".join(ROLES), role=role))


def check_password(password: str) -> None:
    if len(password) < 10:
        raise ConfigError(_("a password needs at least 10 characters"))
