"""What AWS would break on first contact, against `pocctl local` acting AWS out (issue 11)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
from boto3.dynamodb.types import TypeSerializer
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.context import Context
from pocctl.engine import Engine
from pocctl.local.aws.timing import Timing
from pocctl.local.emulator import Emulator
from pocctl.reporting import RecordingReporter
from pocctl.smoke import DEFAULT_ORDER, run_test_order
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
    looked = {(c.step, c.operation) for c in ctx.calls.calls if c.phase == "up"}
    assert not looked & {
        ("writer", "GetFunction"),
        ("notifier", "GetFunction"),
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


@pytest.mark.parametrize("refused", [True, False], ids=["refused-while-pending", "accepted"])
def test_a_repair_that_makes_a_function_again_attaches_its_mapping_under_either_answer(
    refused: bool,
) -> None:
    # The docs leave open whether a Pending function takes a mapping. A repair run (the table
    # already there) creates the mapping right after the function: Pending lasts 0.3 s here,
    # so nothing hides the race.
    with Emulator(port=0, timing=Timing(scale=0.2)) as emulator:
        emulator.aws.lambda_.refuse_mappings_while_pending = refused
        ctx = up_local(emulator, "pend")
        lam = ctx.client("lambda")
        for mapping in lam.list_event_source_mappings(FunctionName="pend-Lambda-1")[
            "EventSourceMappings"
        ]:
            lam.delete_event_source_mapping(UUID=mapping["UUID"])
        lam.delete_function(FunctionName="pend-Lambda-1")
        deadline = time.monotonic() + 30
        while lam.list_event_source_mappings(FunctionName="pend-Lambda-1")["EventSourceMappings"]:
            assert time.monotonic() < deadline, "the mapping's deletion did not finish"
            time.sleep(0.05)
        again = up_local(emulator, "pend")
        (mapping,) = again.client("lambda").list_event_source_mappings(
            FunctionName="pend-Lambda-1"
        )["EventSourceMappings"]
        assert mapping["State"] == "Enabled"


def real_quota(emulator: Emulator) -> None:
    """From now on AWS's clock runs at its real speed: among others, Lambda's control plane
    takes 15 requests in any real second (the stack was built fifty times faster)."""
    emulator.aws.lambda_.world.timing = Timing()


@pytest.mark.slow
def test_a_repair_stays_under_lambdas_control_plane_quota(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = up_local(emulator, "quota")
    real_quota(emulator)
    lam = ctx.client("lambda")
    for function in ("quota-Lambda-1", "quota-Lambda-2"):  # both mappings and settings by hand
        for mapping in lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]:
            lam.delete_event_source_mapping(UUID=mapping["UUID"])
        lam.update_function_configuration(FunctionName=function, Timeout=7)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    result = CliRunner().invoke(cli, ["up", "--stack", "quota"])
    assert result.exit_code == 0, result.output
    assert emulator.aws.lambda_.throttled == []


class StoresWhileCreating(RecordingReporter):
    """Stores an order when the stream mapping's step starts waiting for its new mapping
    (which is then Creating)."""

    def __init__(self, store: Callable[[], None]) -> None:
        super().__init__()
        self.store = store

    def step_started(self, step: str, title: str, doing: str) -> None:
        super().step_started(step, title, doing)
        if step == "stream-mapping" and doing == "waiting until Enabled:":
            self.store()


def store_order(ctx: Context, order_id: str) -> str:
    """A row as the writer stores it; returns AWS's clock (the answer's Date)."""
    row = {**DEFAULT_ORDER, "orderID": order_id, "receivedAt": "2026-01-01T00:00:00.000Z"}
    item = {key: TypeSerializer().serialize(value) for key, value in row.items()}
    answer = ctx.client("dynamodb").put_item(TableName=ctx.config.names.table, Item=item)
    return str(answer["ResponseMetadata"]["HTTPHeaders"]["date"])


def wait_for(check: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("creation_time_as", ["string", "number"])
def test_a_stream_mapping_made_again_neither_replays_old_orders_nor_skips_new_ones(
    emulator: Emulator, creation_time_as: str
) -> None:
    # How filters see a record's creation time is open in the docs: both answers.
    assert emulator.supervisor is not None
    emulator.supervisor.creation_time_as = creation_time_as
    ctx = up_local(emulator, "replay", email="replay@example.com")

    def notified(order_id: str) -> int:
        prefix = f"New order {order_id}:"
        return sum(1 for m in emulator.outbox.messages if m["subject"].startswith(prefix))

    stored_at = store_order(ctx, "old-order")
    wait_for(lambda: notified("old-order") == 1, "the old order's notification")
    lam = ctx.client("lambda")
    for mapping in lam.list_event_source_mappings(FunctionName="replay-Lambda-2")[
        "EventSourceMappings"
    ]:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])  # by hand
    wait_for(
        lambda: (
            not lam.list_event_source_mappings(FunctionName="replay-Lambda-2")[
                "EventSourceMappings"
            ]
        ),
        "the mapping's deletion",
    )
    # AWS's clock counts in seconds: the repair starts in a later one than the old order's.
    ddb = ctx.client("dynamodb")
    wait_for(
        lambda: (
            ddb.describe_table(TableName="replay-orders")["ResponseMetadata"]["HTTPHeaders"]["date"]
            != stored_at
        ),
        "AWS's clock to pass the old order's second",
    )
    again = Context(
        ctx.config,
        StoresWhileCreating(lambda: store_order(ctx, "new-order")),
        session=ctx.session,
    )
    report = Engine(again, build_steps(again.config)).up()
    assert report.ok, [(r.title, r.error) for r in report.results if r.error]
    wait_for(lambda: notified("new-order") == 1, "the new order's notification")
    assert notified("old-order") == 1
    # The filter that keeps the replay out is the mapping's own: the next up changes nothing.
    third = Context(ctx.config, RecordingReporter(), session=ctx.session)
    assert Engine(third, build_steps(third.config)).up().ok
    assert third.calls.mutating == []
