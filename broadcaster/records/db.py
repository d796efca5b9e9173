"""The one module that knows sqlite3: a database file that survives power cuts, shared by threads.

WAL with synchronous=FULL: a committed row survives a power cut. Files are readable by the
owner's group only. It knows nothing of airings or accounts; the play log and the accounts
are written on top of it (as beets keeps its generic layer apart from its music models).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Iterator

from broadcaster.errors import BroadcasterError
from broadcaster.fsutil import private_dir, private_file
from broadcaster.i18n import _


class StoreError(BroadcasterError):
    """A database in the state folder cannot be opened or written. Not the input's fault."""

    exit_code = 1


class Duplicate(Exception):
    """An insert that would break a UNIQUE constraint (the row is there already)."""


class Database:
    def __init__(self, path: Path, schema: str, migrations: tuple[tuple[str, str, str], ...] = (), *, what: str):
        self.path = path
        self.what = what
        try:
            private_dir(path.parent)
            new = not path.exists()
            self.db = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(schema)
            for table, column, definition in migrations:   # columns added since older files were made
                have = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            if new:
                private_file(path)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(_("cannot open {what} {path}: {reason}", what=what, path=path, reason=e),
                             hint=_("check that the state folder exists and is writable")) from None
        self.lock = threading.Lock()

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        """One statement, committed; Duplicate if it breaks a UNIQUE constraint."""
        with self.lock:
            try:
                return self.db.execute(sql, args)
            except sqlite3.IntegrityError as e:
                raise Duplicate(str(e)) from None
            except sqlite3.OperationalError as e:
                raise StoreError(_("cannot write {what}: {reason}", what=self.what, reason=e),
                                 hint=_("check free disk space and the state folder's permissions")) from None

    def read(self, sql: str, args: tuple | list = ()) -> list[tuple]:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def one(self, sql: str, args: tuple | list = ()) -> tuple | None:
        with self.lock:
            return self.db.execute(sql, args).fetchone()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Several statements, all or none."""
        with self.lock:
            try:
                self.db.execute("BEGIN")
                yield self.db
                self.db.execute("COMMIT")
            except sqlite3.Error as e:
                self.db.execute("ROLLBACK")
                raise StoreError(_("cannot write {what}: {reason}", what=self.what, reason=e)) from None
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
