"""What AWS would break on first contact, against `pocctl local` acting AWS out (issue 11)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.engine import Engine
from pocctl.local.emulator import Emulator
from pocctl.smoke import run_test_order
from pocctl.stack import build_steps

from .emulated import TIMING, FreezableClock, up_local


@pytest.fixture
def clock() -> FreezableClock:
    return FreezableClock()


@pytest.fixture
def emulator(clock: FreezableClock) -> Iterator[Emulator]:
    with Emulator(port=0, timing=TIMING, clock=clock) as running:
        yield running


def test_up_returns_once_both_mappings_poll_and_the_stream_loses_nothing(
    emulator: Emulator,
) -> None:
    ctx = up_local(emulator, "first")
    lam = ctx.client("lambda")
    mappings = [
        m
        for function in ("first-Lambda-1", "first-Lambda-2")
        for m in lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    ]
    assert [m["State"] for m in mappings] == ["Enabled", "Enabled"]
    stream = next(m for m in mappings if "/stream/" in m["EventSourceArn"])
    assert stream["StartingPosition"] == "TRIM_HORIZON"
    for mapping in mappings:  # tagged at creation, so the sweep can find them
        assert lam.list_tags(Resource=mapping["EventSourceMappingArn"])["Tags"] == {
            "pocctl:stack": "first"
        }
    waits = [s for s in ctx.reporter.started if s[1] == "waiting until Enabled:"]  # type: ignore[attr-defined]
    assert sorted(step for step, _ in waits) == ["queue-mapping", "stream-mapping"]
    # Only what the next call needs: a new function's mapping is made while it may be Pending,
    # so nothing waited for the functions to be Active.
    looked = {(c.step, c.operation) for c in ctx.calls.calls}
    assert not looked & {
        ("writer", "GetFunctionConfiguration"),
        ("notifier", "GetFunctionConfiguration"),
    }


def test_down_then_up_at_once_works_and_carries_an_order(emulator: Emulator) -> None:
    ctx = up_local(emulator, "again", email="again@example.com")
    assert Engine(ctx, build_steps(ctx.config)).down().ok
    # The table is still DELETING, the mappings Deleting, the queues' names refused for a while.
    again = up_local(emulator, "again", email="again@example.com")
    result = run_test_order(again, timeout=30)
    assert result.ok, result.failed_hop


def test_down_reports_what_aws_is_still_deleting_and_exits_0(
    emulator: Emulator, clock: FreezableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    up_local(emulator, "busy")
    clock.freeze()  # AWS's deletions stay in progress while the sweep looks
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    result = CliRunner().invoke(cli, ["down", "--stack", "busy", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["left"] == []
    being_deleted = {item["kind"] for item in document["being_deleted"]}
    # The queues too: deleted ones still answer for 60 s (SQS API reference, DeleteQueue).
    assert being_deleted == {"DynamoDB table", "event source mapping", "SQS queue"}
    assert "Still being deleted by AWS" in result.stderr
