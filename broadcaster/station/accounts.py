"""People and their rights: accounts, the audit trail of who did what, and throttled log-ins.

What each role may do is the one table ``RIGHTS``; the console checks it on the server for every
request, the commands for what they do on a person's behalf. Passwords are hashed with Argon2id.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from broadcaster.errors import BroadcasterError, ConfigError
from broadcaster.i18n import N_, _
from broadcaster.station.db import Database, Duplicate

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
    "users": frozenset({"admin"}),                         # accounts
}
RIGHT_WORDS = {"view": N_("see everything"), "edit": N_("edit and render scripts, submit them"),
               "approve": N_("approve or send back"), "play": N_("play now"), "users": N_("manage accounts")}
MAX_FAILURES = 5          # failed log-ins in WINDOW, per account and per address, before a pause
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


class AccessError(BroadcasterError):
    """Someone tried what their role does not allow, or gave wrong credentials."""

    exit_code = 1


@dataclass(frozen=True)
class User:
    name: str
    role: str
    epoch: int

    def may(self, right: str) -> bool:
        return self.role in RIGHTS[right]


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


def _hasher():
    from argon2 import PasswordHasher
    return PasswordHasher()   # Argon2id with argon2-cffi's current recommended parameters


class Accounts:
    def __init__(self, state: Path):
        self.store = Database(state / DB_NAME, SCHEMA, what=_("the accounts"))

    def close(self) -> None:
        self.store.close()

    # --- accounts ---------------------------------------------------------------

    def add(self, name: str, role: str, password: str) -> None:
        check_name(name)
        check_role(role)
        check_password(password)
        try:
            self.store.write("INSERT INTO users (name, role, hash, created) VALUES (?,?,?,?)",
                             (name, role, _hasher().hash(password), time.time()))
        except Duplicate:
            raise ConfigError(_('there is already an account "{name}"', name=name)) from None

    def users(self) -> list[User]:
        return [User(*r) for r in self.store.read("SELECT name, role, epoch FROM users ORDER BY name")]

    def get(self, name: str) -> User | None:
        r = self.store.one("SELECT name, role, epoch FROM users WHERE name=?", (name,))
        return User(*r) if r else None

    def set_password(self, name: str, password: str) -> None:
        check_password(password)
        if self.store.write("UPDATE users SET hash=?, epoch=epoch+1 WHERE name=?",
                            (_hasher().hash(password), name)).rowcount == 0:
            raise ConfigError(_('there is no account "{name}"', name=name))

    def set_role(self, name: str, role: str) -> None:
        check_role(role)
        if self.store.write("UPDATE users SET role=?, epoch=epoch+1 WHERE name=?", (role, name)).rowcount == 0:
            raise ConfigError(_('there is no account "{name}"', name=name))

    def remove(self, name: str) -> None:
        if self.store.write("DELETE FROM users WHERE name=?", (name,)).rowcount == 0:
            raise ConfigError(_('there is no account "{name}"', name=name))

    def authenticate(self, name: str, password: str, address: str) -> User:
        """The user, if the password is right and neither the account nor the address is paused."""
        now = time.time()
        for key in (f"user:{name}", f"addr:{address}"):
            n, first = self.store.one("SELECT count(*), min(time) FROM failures WHERE key=? AND time>?",
                                      (key, now - WINDOW))
            if n >= MAX_FAILURES:
                wait = int((first + WINDOW - now) // 60) + 1
                raise AccessError(_("too many failed log-ins; try again in {minutes} min", minutes=wait))
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
                db.execute("INSERT INTO failures (key, time) VALUES (?,?)", (f"user:{name}", now))
                db.execute("INSERT INTO failures (key, time) VALUES (?,?)", (f"addr:{address}", now))
                db.execute("DELETE FROM failures WHERE time < ?", (now - 2 * WINDOW,))
            raise AccessError(_("wrong name or password"))
        self.store.write("DELETE FROM failures WHERE key=?", (f"user:{name}",))
        return self.get(name)

    # --- who did what -------------------------------------------------------------

    def audit(self, user: str | None, address: str | None, action: str, detail: str = "") -> None:
        self.store.write("INSERT INTO audit (time, user, address, action, detail) VALUES (?,?,?,?,?)",
                         (time.time(), user, address, action, detail))

    def trail(self, limit: int = 200) -> list[tuple]:
        return self.store.read("SELECT time, user, address, action, detail FROM audit ORDER BY id DESC LIMIT ?",
                               (limit,))

    # --- approvals ----------------------------------------------------------------

    def submit(self, bulletin: str, script_sha256: str, editor: str, text: str | None = None) -> None:
        self.store.write("INSERT INTO approvals (bulletin, script_sha256, state, editor, time, text)"
                         " VALUES (?,?,?,?,?,?)", (bulletin, script_sha256, "submitted", editor, time.time(), text))

    def decide(self, bulletin: str, script_sha256: str, approver: str, approve: bool, comment: str = "",
               audio: str | None = None) -> Approval:
        sub = self.latest(bulletin)
        if sub is None or sub.state != "submitted" or sub.script_sha256 != script_sha256:
            raise AccessError(_("this version of {bulletin} was not submitted for approval (or has changed since)",
                                bulletin=bulletin))
        if sub.editor == approver:
            raise AccessError(_("nobody approves their own edit: another approver must do it"))
        self.store.write("INSERT INTO approvals (bulletin, script_sha256, state, editor, approver, comment, audio,"
                         " time, text) VALUES (?,?,?,?,?,?,?,?,?)",
                         (bulletin, script_sha256, "approved" if approve else "returned", sub.editor, approver,
                          comment, audio, time.time(), sub.text))
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


def check_name(name: str) -> None:
    if not _NAME.match(name or ""):
        raise ConfigError(_("an account name is 2 to 32 of a-z, 0-9, '.', '-' and '_', not {name}", name=repr(name)))


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ConfigError(_("the role must be one of {roles}, not {role}", roles=", ".join(ROLES), role=role))


def check_password(password: str) -> None:
    if len(password) < 10:
        raise ConfigError(_("a password needs at least 10 characters"))
