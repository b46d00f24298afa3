"""A re-run of an `up` killed after it made the roles, before it waited for IAM (issue 22's soak,
seed 40: the orders posted right after the re-run's "up" met roles IAM had not propagated)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pocctl.core.context import Context
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps
from pocctl.resources import iam

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
    monkeypatch.setattr(iam, "IAM_PROPAGATION_SECONDS", PROPAGATION)
    assert Engine(ctx, build_steps(ctx.config)).up().ok
    # AWS answers an hour later (by its own clock): the roles are old, nothing to wait for.
    later = datetime.now(UTC) + timedelta(hours=1)
    monkeypatch.setattr(iam, "answered_at", lambda response: later)
    sleeps.clear()
    again = fresh(ctx)
    assert Engine(again, build_steps(again.config)).up().ok
    assert sleeps == []


ROLE = {"CreateDate": datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)}


def test_a_roles_age_is_measured_on_aws_clock_not_this_machines(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This machine's clock may be minutes off AWS's (signatures allow about 15 minutes): a role
    made 3 s ago by AWS's clock is young, however late or early this machine thinks it is."""
    monkeypatch.setattr(iam, "IAM_PROPAGATION_SECONDS", 10.0)
    aws_now = ROLE["CreateDate"] + timedelta(seconds=3)
    before = ctx.clock()
    made = iam.recently_made(ctx, ROLE, aws_now)
    after = ctx.clock()
    assert made is not None
    # CreateDate is whole seconds: the role may be up to a second older than it says. The clock
    # moves while the age is read (CI once saw 2.0000023 s): `made` lies between the readings.
    assert before - 2.0 <= made <= after - 2.0
    assert iam.recently_made(ctx, ROLE, aws_now + timedelta(minutes=5)) is None


def test_aws_clock_is_the_date_of_its_answer() -> None:
    response = {"ResponseMetadata": {"HTTPHeaders": {"date": "Wed, 02 Dec 2026 12:00:03 GMT"}}}
    assert iam.answered_at(response) == datetime(2026, 12, 2, 12, 0, 3, tzinfo=UTC)
