"""Jobs side by side: how many processes and threads, and the in-process pool's failure order."""

import pytest
from cdt.train import jobs


@pytest.mark.parametrize(
    ("n_jobs", "preset", "cores", "expected"),
    [
        (5, "mini", 2, (2, 1)),  # one job per core, one thread each
        (5, "tiny", 8, (5, 1)),
        (2, "mini", 8, (2, 4)),  # spare cores become threads
        (1, "mini", 2, (1, 0)),  # a single job runs here with the process's threads
        (5, "mini", 1, (1, 0)),
        (5, "paper", 8, (1, 0)),  # paper-size models one at a time
    ],
)
def test_small_jobs_run_side_by_side_one_per_core(monkeypatch, n_jobs, preset, cores, expected):
    monkeypatch.setattr(jobs.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert jobs.side_by_side(n_jobs, preset) == expected


def test_in_process_pool_raises_at_once_so_later_jobs_never_start():
    started = []

    def job(name):
        started.append(name)
        if name == "b":
            raise ValueError("b failed")
        return name.upper()

    with jobs.job_pool(1, 0) as pool:
        assert pool.submit(job, "a").result() == "A"
        with pytest.raises(ValueError, match="b failed"):
            pool.submit(job, "b")
    assert started == ["a", "b"]
