"""Which cases the default `pytest` runs: the rest are heavy cases, marked `slow`, and CI runs
them all beside it (`.ci/run`). A heavy case is one that needs more than about 1 s of CPU here
(marked on the test, "heavy: ..."), or a further case of a parametrized test whose every case
deploys a stack of its own and mostly waits (`heavy_case`): the default run keeps the first."""

from __future__ import annotations

from typing import Any

import pytest


def heavy_case(*values: object) -> Any:
    return pytest.param(*values, marks=pytest.mark.slow)
