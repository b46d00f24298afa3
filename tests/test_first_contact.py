"""What AWS would break on first contact, against `pocctl local` acting AWS out (issue 11)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.core.context import Context
from pocctl.core.reporting import RecordingReporter
from pocctl.local.aws.timing import Timing
from pocctl.local.emulator import Emulator
from pocctl.ops.smoke import DEFAULT_ORDER, run_test_order
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps

from .cases import heavy_case
from .emulated import TIMING, FreezableClock, until_mapping_is, up_local


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


@pytest.mark.slow  # heavy (tests/cases.py)
def test_down_then_up_at_once_works_and_carries_an_order(emulator: Emulator) -> None:
    ctx = up_local(emulator, "again", email="again@example.com")
    assert Engine(ctx, build_steps(ctx.config)).down().ok
    # The table is still DELETING, the mappings Deleting, the queues' names refused for a while.
    again = up_local(emulator, "again", email="again@example.com")
    result = run_test_order(again, timeout=30)
    assert result.ok, result.failed_hop


@pytest.mark.slow  # heavy (tests/cases.py)
def test_down_reports_what_aws_is_still_deleting_and_exits_0(
    emulator: Emulator, clock: FreezableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    up_local(emulator, "busy")
    # AWS's deletions stay in progress while the sweep looks: AWS's clock stops as `down`
    # starts deleting (not before: its reads first, CloudFormation's tags on the API and stage
    # among them, would spend API Gateway's request quota, which refills on that clock).
    deleting = Engine.down

    def frozen_once_deleting(engine: Engine) -> Any:
        clock.freeze()
        return deleting(engine)

    monkeypatch.setattr(Engine, "down", frozen_once_deleting)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    result = CliRunner().invoke(cli, ["down", "--stack", "busy", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["left"] == []
    being_deleted = {item["kind"] for item in document["being_deleted"]}
    # The queues too: deleted ones still answer for 60 s (SQS API reference, DeleteQueue).
    assert being_deleted == {"DynamoDB table", "event source mapping", "SQS queue"}
    assert "Still being deleted by AWS" in result.stderr


@pytest.mark.parametrize(
    ("refused", "wording"),
    [(True, None), heavy_case(True, "Function is not ready."), heavy_case(False, None)],
    ids=["refused-while-pending", "refused-in-other-words", "accepted"],
)
def test_a_repair_that_makes_a_function_again_attaches_its_mapping_under_either_answer(
    refused: bool, wording: str | None
) -> None:
    # The docs leave open whether a Pending function takes a mapping, and in which words it is
    # refused. A repair run (the table already there) creates the mapping right after the
    # function: Pending lasts 0.3 s here, so nothing hides the race.
    with Emulator(port=0, timing=Timing(scale=0.2)) as emulator:
        emulator.aws.lambda_.refuse_mappings_while_pending = refused
        if wording is not None:
            emulator.aws.lambda_.pending_mapping_message = wording
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


def notified(emulator: Emulator, order_id: str) -> int:
    prefix = f"New order {order_id}:"
    return sum(1 for m in emulator.outbox.messages if m["subject"].startswith(prefix))


def stream_mappings(ctx: Context, function: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ctx.client("lambda").list_event_source_mappings(
        FunctionName=function
    )["EventSourceMappings"]
    return found


def delete_by_hand(ctx: Context, function: str) -> None:
    lam = ctx.client("lambda")
    for mapping in stream_mappings(ctx, function):
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
    wait_for(lambda: not stream_mappings(ctx, function), "the mapping's deletion")


def up_again_storing(ctx: Context, order_id: str) -> RecordingReporter:
    """`up` once more; an order is stored while its new stream mapping is Creating."""
    reporter = StoresWhileCreating(lambda: store_order(ctx, order_id))
    again = Context(ctx.config, reporter, session=ctx.session)
    report = Engine(again, build_steps(again.config)).up()
    assert report.ok, [(r.title, r.error) for r in report.results if r.error]
    return reporter


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_stream_mapping_deleted_by_hand_is_made_again_and_notifies_each_order_once(
    emulator: Emulator,
) -> None:
    ctx = up_local(emulator, "replay", email="replay@example.com")
    store_order(ctx, "old-order")
    wait_for(lambda: notified(emulator, "old-order") == 1, "the old order's notification")
    delete_by_hand(ctx, "replay-Lambda-2")
    stored_at = store_order(ctx, "gap-order")  # no mapping reads the stream meanwhile
    # The gap lasts: AWS's clock (in seconds) is past the gap order's when `up` repairs.
    ddb = ctx.client("dynamodb")
    wait_for(
        lambda: (
            ddb.describe_table(TableName="replay-orders")["ResponseMetadata"]["HTTPHeaders"]["date"]
            != stored_at
        ),
        "AWS's clock to pass the gap order's second",
    )
    reporter = up_again_storing(ctx, "new-order")
    assert any("reads it from its start" in n for n in reporter.notes)
    wait_for(lambda: notified(emulator, "new-order") == 1, "the new order's notification")
    # The stream is read in order: the old and the gap orders came before the new one.
    assert notified(emulator, "gap-order") == 1
    assert notified(emulator, "old-order") == 1
    third = Context(ctx.config, RecordingReporter(), session=ctx.session)
    assert Engine(third, build_steps(third.config)).up().ok
    assert third.calls.mutating == []


@pytest.mark.slow  # heavy (tests/cases.py)
@pytest.mark.parametrize("creation_time_as", ["string", "number"])
def test_a_stream_mapping_replaced_for_a_setting_rereads_a_margin_and_notifies_each_order_once(
    emulator: Emulator, creation_time_as: str
) -> None:
    # How filters see a record's creation time is open in the docs: both answers.
    assert emulator.supervisor is not None
    emulator.supervisor.creation_time_as = creation_time_as
    ctx = up_local(emulator, "remade", email="remade@example.com")
    delete_by_hand(ctx, "remade-Lambda-2")
    lam = ctx.client("lambda")
    stream = ctx.client("dynamodb").describe_table(TableName="remade-orders")["Table"][
        "LatestStreamArn"
    ]
    # A mapping at LATEST (as an older pocctl made them): StartingPosition can't be updated.
    by_hand = lam.create_event_source_mapping(
        FunctionName="remade-Lambda-2", EventSourceArn=stream, StartingPosition="LATEST"
    )
    until_mapping_is(lam, by_hand["UUID"], "Enabled")
    # LATEST starts where the stream is when the poller opens it: orders until then are
    # skipped. Orders until one is notified; each waits for its notification a while.
    old_orders: list[str] = []
    while not any(notified(emulator, order) for order in old_orders):
        assert len(old_orders) < 20, "the hand-made mapping delivers nothing"
        old_orders.append(f"old-order-{len(old_orders)}")
        store_order(ctx, old_orders[-1])
        try:
            wait_for(lambda: notified(emulator, old_orders[-1]) == 1, "a notification", 1.0)
        except AssertionError:
            continue
    store_order(ctx, "late-order")  # the old mapping may not deliver it before it goes
    reporter = up_again_storing(ctx, "new-order")
    assert any("reads the records of the last 5 minutes again" in n for n in reporter.notes)
    (made,) = stream_mappings(ctx, "remade-Lambda-2")
    assert made["StartingPosition"] == "TRIM_HORIZON"
    assert "ApproximateCreationDateTime" in json.dumps(made["FilterCriteria"])
    wait_for(lambda: notified(emulator, "new-order") == 1, "the new order's notification")
    wait_for(lambda: notified(emulator, "late-order") >= 1, "the late order's notification")
    # Stored minutes ago at most: read again, each notified once (those LATEST skipped too).
    for order in old_orders:
        wait_for(lambda: notified(emulator, order) >= 1, f"{order}'s notification")  # noqa: B023
    assert [notified(emulator, order) for order in [*old_orders, "late-order"]] == [1] * (
        len(old_orders) + 1
    )
    third = Context(ctx.config, RecordingReporter(), session=ctx.session)
    assert Engine(third, build_steps(third.config)).up().ok
    assert third.calls.mutating == []
