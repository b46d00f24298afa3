"""How many pytest-xdist workers a run takes, apart from the rest of the tests' set-up: `.ci/run`
asks it too (`python3 -c 'from tests.workers import ...'`), with nothing heavy imported."""

import os


def default_workers() -> int:
    """Three a core, at most four more than the cores (tests/conftest.py says why)."""
    cores = os.cpu_count() or 1
    return min(3 * cores, cores + 4)


def workers_beside_other_jobs() -> int:
    """One fewer, for a run with other jobs beside it (.ci/run): they likely fill the waits the last
    worker filled."""
    return max(1, default_workers() - 1)
