"""A re-run of an `up` killed after it made the roles, before it waited for IAM (issue 22's soak,
seed 40: the orders posted right after the re-run's "up" met roles IAM had not propagated)."""

from __future__ import annotations

import pytest

from pocctl.context import Context
from pocctl.engine import Engine
from pocctl.resources import iam
from pocctl.stack import build_steps

from .conftest import Sleeps, fresh

PROPAGATION = 600.0  # far longer than this test takes: the roles are "just made" throughout


def test_the_rerun_waits_for_iam_to_propagate_roles_the_killed_run_made(
    ctx: Context, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(iam, "IAM_PROPAGATION_SECONDS", PROPAGATION)
    killed = Engine(ctx, build_steps(ctx.config))
    assert killed.up().ok
    sleeps.clear()  # the first run's own wait: as if it was killed before it

    rerun = fresh(ctx)
    report = Engine(rerun, build_steps(rerun.config)).up()
    assert report.ok
    assert rerun.calls.mutating == []  # nothing to change...
    # ...but the roles are seconds old: the re-run is not up before IAM can have applied them.
    assert sleeps and max(sleeps) > PROPAGATION - 60


def test_an_up_long_after_the_roles_were_made_does_not_wait(
    ctx: Context, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Engine(ctx, build_steps(ctx.config)).up().ok
    monkeypatch.setattr(iam, "IAM_PROPAGATION_SECONDS", 0.0)  # as if made long ago
    sleeps.clear()
    again = fresh(ctx)
    assert Engine(again, build_steps(again.config)).up().ok
    assert sleeps == []
