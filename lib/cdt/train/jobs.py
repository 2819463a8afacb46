"""Independent training or notebook jobs side by side: one process per core, one torch thread each.

The small presets' operations are too small to keep several threads busy: on 2 cores a mini CDT-II epoch is about
as fast on one thread as on two threads that sleep between operations, and two threads that spin instead fall far
behind once anything else runs. One job per core, one thread each, uses every core without either.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor

__all__ = ["job_pool", "side_by_side"]


def side_by_side(n_jobs: int, preset: str) -> tuple[int, int]:
    """(processes, torch threads each) for `n_jobs` independent jobs on a preset's models: one job per core on the
    small presets; paper-size models (threads do pay there, and memory is the limit) one at a time, here."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if preset == "paper" or n_jobs <= 1 or cores <= 1:
        return 1, 0  # in this process, threads as they are
    workers = min(n_jobs, cores)
    return workers, max(1, cores // workers)


class _InProcess:
    """The `job_pool` for one job at a time: runs each job here, at once, with the process's own threads."""

    def submit(self, fn, *args) -> Future:
        """Run `fn(*args)` now; an error is raised here, so nothing after a failed job starts."""
        future: Future = Future()
        future.set_result(fn(*args))
        return future

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def job_pool(workers: int, threads: int):
    """Processes (spawned: no copy of this process's state or threads) with `threads` torch threads each,
    or this process when `workers` is 1."""
    if workers <= 1:
        return _InProcess()
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_limit_threads,
        initargs=(threads,),
    )


def _limit_threads(threads: int) -> None:
    """In a job process: its torch threads, and those of any notebook kernel it starts (they inherit the setting)."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
