"""Symbolic equivalence by math-verify, with hard deadlines that hold in any thread.

math-verify's timeouts use SIGALRM, which works only in a process's main thread. Outside it the
check runs in a worker process of the calling thread's own (a ``forkserver`` child, never a fork
of this multithreaded, maybe CUDA-holding process) with a hard deadline; a worker that misses it
is killed and replaced. Each thread has its own worker, so a timeout in one thread never breaks
another thread's grading.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import lru_cache
from typing import Any

TIMEOUT_S = 5
"""math-verify's own parse and verify timeouts (seconds), as before."""
HARD_TIMEOUT_S = 60.0
"""Deadline of one check in a worker process (start-up and math-verify's import included)."""
_local = threading.local()


def _context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _warm() -> None:
    import math_verify  # noqa: F401  (imported once per worker, not inside the first deadline)


class _Worker:
    """One thread's worker process."""

    def __init__(self) -> None:
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=_context(), initializer=_warm)

    def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is None:
            return
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def __del__(self) -> None:  # the thread ended: its thread-local worker goes with it
        try:
            self.close()
        except Exception:
            pass


def run_isolated(fn: Callable[..., Any], *args: Any, default: Any, timeout: float | None = None) -> Any:
    """``fn(*args)`` in this thread's worker process; ``default`` if it misses the deadline or fails.

    A worker that timed out or died is replaced (one retry when it was found broken)."""
    for _ in range(2):
        worker = getattr(_local, "worker", None)
        if worker is None or worker.pool is None:
            worker = _local.worker = _Worker()
        try:
            future = worker.pool.submit(fn, *args)
            return future.result(timeout=HARD_TIMEOUT_S if timeout is None else timeout)
        except FutureTimeout:
            worker.close()
            return default
        except (RuntimeError, OSError, EOFError):  # BrokenProcessPool is a RuntimeError
            worker.close()
        except Exception:
            return default
    return default


@lru_cache(maxsize=65536)
def _parse(text: str, timeout: int | None):
    from math_verify import parse

    return parse(f"${text}$", parsing_timeout=timeout)


def _verify(pred: str, gold: str, timeout: int | None) -> bool:
    from math_verify import verify

    try:
        return bool(verify(_parse(gold, timeout), _parse(pred, timeout), timeout_seconds=timeout))
    except Exception:
        return False


def symbolic_equal(pred: str, gold: str) -> bool:
    """math-verify's verdict on two answers (LaTeX without ``$``), bounded in time in any thread."""
    if threading.current_thread() is threading.main_thread():
        return _verify(pred, gold, TIMEOUT_S)
    return bool(run_isolated(_verify, pred, gold, TIMEOUT_S, default=False))
