"""The process's worker pool: made once, its threads kept, and work given to it from one of its own
threads runs there instead of waiting for a thread that will never be free."""

from __future__ import annotations

import threading

from broadcaster import workers


def _workers() -> set[int]:
    return {t.ident for t in threading.enumerate() if t.name.startswith("worker")}


def test_the_pool_is_made_once_and_keeps_its_threads():
    first = workers.pool()
    threads = _workers()
    assert len(threads) == max(2, workers.cores())       # all started with the pool
    assert workers.map_all(lambda n: n * n, range(50)) == [n * n for n in range(50)]
    assert workers.pool() is first and _workers() == threads


def test_work_given_from_inside_the_pool_runs_in_the_thread_that_gives_it():
    def outer(n: int) -> tuple[bool, list[int]]:
        here = threading.get_ident()
        return workers.in_worker(), workers.map_all(lambda m: (m, threading.get_ident() == here)[1] * m,
                                                    range(n))

    # every worker busy with an outer job that maps more work: with a thread pool's map these would
    # wait for each other for ever
    size = max(2, workers.cores())
    jobs = [workers.pool().submit(outer, 5) for _ in range(size)]
    assert [j.result(timeout=30) for j in jobs] == [(True, [0, 1, 2, 3, 4])] * size
    assert not workers.in_worker()


def test_cancel_drops_what_has_not_started_and_waits_for_what_has():
    size = max(2, workers.cores())
    started, release = threading.Barrier(size + 1), threading.Event()
    finished: list[int] = []

    def hold(n: int) -> None:
        started.wait(10)
        release.wait(10)
        finished.append(n)

    running = [workers.pool().submit(hold, n) for n in range(size)]
    started.wait(10)                                    # every worker holds a job
    queued = [workers.pool().submit(finished.append, 100 + n) for n in range(5)]
    threading.Timer(0.3, release.set).start()           # let go while cancel waits
    workers.cancel(running + queued)
    assert sorted(finished) == list(range(size))        # the running ones ended, the queued never ran
    assert all(q.cancelled() for q in queued)



def test_ahead_gives_each_in_order_and_computes_the_next_ones_meanwhile():
    asked: list[int] = []
    four = threading.Event()

    def load(n: int) -> int:
        asked.append(n)
        if len(asked) == 4:
            four.set()
        return n * 10

    with workers.Ahead(load, 20, depth=4) as ahead:
        assert ahead.get(0) == 0
        assert four.wait(10) and sorted(asked) == [0, 1, 2, 3]    # 1 to 3 before anyone asked for them
        assert [ahead.get(n) for n in range(1, 20)] == [n * 10 for n in range(1, 20)]
    assert sorted(asked) == list(range(20))                       # each computed once
    with workers.Ahead(load, 5, depth=0) as inline:               # depth 0: when asked, in this thread
        assert inline.get(4) == 40 and asked[-1] == 4 and len(asked) == 21
