"""The process's worker threads: one pool, made once, for every step of a render that uses more
than one core (synthesis with espeak-ng, decoding sentences ahead, screening true peaks, encoding
the two halves of a long MP3).

One pool rather than one per step: each thread that computes a matrix product gets its own
OpenBLAS buffer (32 MB of address space) and each thread that allocates may get a malloc arena.
Threads made anew for each step paid that again and again, in the middle of a render, where a PC
short of memory (or a process under a memory limit) could refuse it; these threads make theirs
once, when the pool starts, and keep them.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Generic, Iterable, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_mine = threading.local()


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _start() -> None:
    _mine.worker = True
    # its BLAS buffer now, while the render has hardly begun, rather than at its first product
    square = np.ones((256, 256), np.float32)
    square @ square


def pool() -> ThreadPoolExecutor:
    """The shared pool: a thread per core, at least two (the halves of an MP3 are encoded at once)."""
    global _pool
    with _lock:
        if _pool is None:
            size = max(2, cores())
            _pool = ThreadPoolExecutor(size, thread_name_prefix="worker", initializer=_start)
            together = threading.Barrier(size)      # every thread started (and its buffers made) now
            for job in [_pool.submit(together.wait, 30) for _ in range(size)]:
                job.result()
        return _pool


def in_worker() -> bool:
    """True in one of the pool's threads (work given to the pool from there could wait on itself)."""
    return getattr(_mine, "worker", False)


def map_all(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``fn`` of each item, in order: on the pool's threads, or here when there is one core or this
    is already a worker."""
    if in_worker() or cores() < 2:
        return [fn(item) for item in items]
    return list(pool().map(fn, items))


def cancel(jobs: Iterable[Future]) -> None:
    """Drop the jobs that have not started and wait for the ones that have (the pool lives on)."""
    jobs = list(jobs)
    for job in jobs:
        job.cancel()
    for job in jobs:
        if not job.cancelled():
            try:
                job.result()
            except Exception:       # noqa: BLE001 - the caller is already failing for its own reason
                pass


class Ahead(Generic[R]):
    """``load(n)`` for n from 0 to ``count`` - 1, asked for in order with ``get``: the pool computes
    up to ``depth`` of them ahead of the one asked for (here, one at a time, when there is one core,
    this is already a worker, or ``depth`` is 0). ``close`` (or leaving a ``with``) drops what is
    not needed any more."""

    DEPTH = 6

    def __init__(self, load: Callable[[int], R], count: int, depth: int = DEPTH):
        self._load, self._count = load, count
        self._jobs: dict[int, Future] = {}
        self._depth = depth if cores() > 1 and not in_worker() else 0

    def get(self, n: int) -> R:
        if not self._depth:
            return self._load(n)
        for k in range(n, min(self._count, n + self._depth)):
            if k not in self._jobs:
                self._jobs[k] = pool().submit(self._load, k)
        return self._jobs.pop(n).result()

    def close(self) -> None:
        cancel(self._jobs.values())
        self._jobs.clear()

    def __enter__(self) -> "Ahead[R]":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
