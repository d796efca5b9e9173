"""Writing files so that a crash or a full disk never leaves half a file behind, and one writer at a time."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it replaces ``target``.

    On any error the temporary file is removed and ``target`` is untouched.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or f".tmp{target.suffix}",
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


LOCK_WAIT = 30.0   # seconds a writer waits for another to finish before it gives up (saying so)


@contextlib.contextmanager
def project_lock(config_path: Path, wait: float = LOCK_WAIT) -> Iterator[None]:
    """The one lock every writer of a project's files holds, across processes (the console, the API and the
    command line alike), while it reads a file, changes it and replaces it: two writers never lose each
    other's change. A file beside schedule.toml (``.schedule.toml.lock``); filelock only here."""
    from filelock import FileLock, Timeout
    from broadcaster.errors import StorageError
    from broadcaster.i18n import _
    lock = FileLock(str(config_path.with_name(f".{config_path.name}.lock")))
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise StorageError(_("another change of {file} has not finished in {seconds} s; nothing was changed",
                             file=config_path.name, seconds=int(wait)), hint=_("try again in a moment")) from None
    try:
        yield
    finally:
        lock.release()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_unchanged(path: Path) -> str:
    """``sha256_file``, remembered while the file's size and modification time stay the same
    (the daemon asks for the same audio and scripts at every airing)."""
    st = path.stat()
    return _sha256_stamped(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _sha256_stamped(path: str, _size: int, _mtime_ns: int) -> str:
    return sha256_file(Path(path))


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


PRIVATE_DIR, PRIVATE_FILE = 0o750, 0o640  # the owner writes, the owner's group reads, others nothing


def private_dir(path: Path) -> Path:
    """Create ``path`` (the state folder) readable by the owner's group only; tighten it if we made it wider."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    st = path.stat()
    if st.st_uid == os.getuid() and st.st_mode & 0o777 != PRIVATE_DIR and os.name != "nt":
        with contextlib.suppress(OSError):
            os.chmod(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> None:
    """Make a state file (play log, daemon log) readable by the owner's group only."""
    if os.name != "nt":
        with contextlib.suppress(OSError):
            os.chmod(path, PRIVATE_FILE)
