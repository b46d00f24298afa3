"""Which cases the default `pytest` runs. The others are heavy cases, marked `slow`; CI runs
them all, in the same session as the default ones (`.ci/run`).

A heavy case is either of these:
- a test that took more than about 1 s of CPU in one measured run of the default suite here (its
  call phase; a test that deploys the first stack of its process also pays that process's
  warm-up, about 1.3 s), marked "heavy" on the test;
- a further case of a parametrized test whose every case deploys a stack of its own and mostly
  waits (`heavy_case`): the default run keeps the first cases.
The default run keeps the main test of each feature, however heavy: `up --stage` and `--email`
on a deployed stack, environment variables applied and repaired, a real `pocctl local` stopped
by Ctrl-C."""

from __future__ import annotations

from typing import Any

import pytest


def heavy_case(*values: object) -> Any:
    return pytest.param(*values, marks=pytest.mark.slow)
