"""SQS's clock as pocctl meets it: a new queue, and queues deleted in the last 60 seconds.

A new queue can be used after a second (SQS API reference, CreateQueue), and what SNS sends it
before is lost: test-order posts only once its temporary inbox can receive.

Queues deleted in the last 60 seconds. SQS: "Requests you send involving that queue during the
60 seconds might succeed" (API reference, DeleteQueue), and only CreateQueue is certain (it
refuses the name meanwhile). `pocctl local` answers as each reading of "might" allows
(`deleted_queue_answers`: every request succeeds, only GetQueueUrl does, none does), on a clock
the test moves: `up` right after `down` creates the queues again, and `down` right after
`test-order` does not take its deleted inbox for a leftover, whichever the answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.cli.options import Runtime
from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.errors import ForeignResourceError
from pocctl.core.reporting import Outcome, RecordingReporter
from pocctl.core.session import new_session
from pocctl.local.aws.sqs import ANSWERS, NAME_REUSE_CHECKED
from pocctl.local.aws.timing import Timing
from pocctl.local.emulator import Emulator
from pocctl.ops.health import MISSING, PRESENT, check
from pocctl.ops.smoke import temporary_inbox
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps
from pocctl.resources.queues import QueueStep

from .test_aws_behaviours import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(clock: Clock) -> Iterator[Emulator]:
    with Emulator(port=0, timing=Timing(), clock=clock) as running:
        yield running


def context(emulator: Emulator, clock: Clock) -> Context:
    session = new_session(
        aws_access_key_id="pocctl-local",
        aws_secret_access_key="pocctl-local",
        region_name="us-east-1",
    )
    config = Config(stack="dq", endpoint_url=emulator.endpoint_url)
    return Context(config, RecordingReporter(), session=session, sleep=clock.sleep, clock=clock)


def queue_steps(ctx: Context) -> list[Any]:
    return [step for step in build_steps(ctx.config) if isinstance(step, QueueStep)]


@pytest.mark.parametrize("answers", ANSWERS)
def test_up_right_after_down_creates_the_queues_again(
    emulator: Emulator, clock: Clock, answers: str
) -> None:
    emulator.aws.sqs.deleted_queue_answers = answers
    first = context(emulator, clock)
    assert Engine(first, queue_steps(first)).up().ok
    down = Engine(first, queue_steps(first)).down()
    assert {r.outcome for r in down.results} == {Outcome.DELETED}

    ctx = context(emulator, clock)
    again = Engine(ctx, queue_steps(ctx)).up()
    assert again.ok, again.results
    assert {r.title: r.outcome for r in again.results} == {
        "SQS queue dq-Queue-DLQ": Outcome.CREATED,
        "SQS queue dq-Queue": Outcome.CREATED,
        "SQS queue dq-Stream-Failures": Outcome.CREATED,
    }
    clock.advance(
        "queue_name_reuse"
    )  # whatever was deleted is gone by now; what `up` made is there
    sqs = ctx.client("sqs")
    for name in ("dq-Queue-DLQ", "dq-Queue", "dq-Stream-Failures"):
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"pocctl:stack": "dq"}


def test_a_second_up_confirms_each_queue_without_changing_anything(
    emulator: Emulator, clock: Clock
) -> None:
    first = context(emulator, clock)
    assert Engine(first, queue_steps(first)).up().ok
    ctx = context(emulator, clock)
    again = Engine(ctx, queue_steps(ctx)).up()
    assert {r.outcome for r in again.results} == {Outcome.UNCHANGED}
    assert ctx.calls.mutating == []
    assert [c.operation for c in ctx.calls.calls if c.confirms] == ["CreateQueue"] * 3


def test_confirming_a_queue_keeps_tags_added_by_hand(emulator: Emulator, clock: Clock) -> None:
    ctx = context(emulator, clock)
    assert Engine(ctx, queue_steps(ctx)).up().ok
    sqs = ctx.client("sqs")
    url = sqs.get_queue_url(QueueName="dq-Queue")["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"team": "orders"})
    again = Engine(context(emulator, clock), queue_steps(ctx)).up()
    assert {r.outcome for r in again.results} == {Outcome.UNCHANGED}
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"pocctl:stack": "dq", "team": "orders"}


class ListsNothing:
    """ListQueues answers as if the deleted queue were gone, while the tagging API, GetQueueUrl
    and ListQueueTags still answer for it: each request "might succeed" on its own."""

    def __init__(self, session: Any) -> None:
        session.events.register("after-call.sqs.ListQueues", self._emptied)

    def _emptied(self, parsed: dict[str, Any], **_: Any) -> None:
        parsed["QueueUrls"] = []


@pytest.mark.parametrize("answers", [*ANSWERS, "all, but ListQueues misses it"])
def test_down_right_after_test_order_counts_its_inbox_as_being_deleted(
    emulator: Emulator, clock: Clock, answers: str
) -> None:
    emulator.aws.sqs.deleted_queue_answers = answers.split(",")[0]
    ctx = context(emulator, clock)
    topic = ctx.client("sns").create_topic(Name="dq-Topic", Tags=[])["TopicArn"]
    with temporary_inbox(ctx, topic) as inbox:
        name = inbox.rsplit("/", 1)[-1]

    def session(**kwargs: Any) -> Any:
        made = new_session(**kwargs)
        if "misses" in answers:
            ListsNothing(made)
        return made

    runtime = Runtime(session=session, sleep=clock.sleep, clock=clock)
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    result = CliRunner().invoke(
        cli, ["down", "--stack", "dq", "--yes", "--json"], obj=runtime, env=env
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["left"] == []
    # The inbox test-order itself deleted moments ago is being deleted: not "removed" by down.
    assert "interrupted test-order" not in result.output
    if answers != "none" and answers != "url":
        assert [item["name"] for item in document["being_deleted"]] == [name]


@pytest.mark.parametrize("answers", ANSWERS)
def test_ls_does_not_list_a_stack_just_taken_down(
    emulator: Emulator, clock: Clock, answers: str
) -> None:
    emulator.aws.sqs.deleted_queue_answers = answers
    ctx = context(emulator, clock)
    runtime = Runtime(sleep=clock.sleep, clock=clock)
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}

    def listed() -> list[str]:
        result = CliRunner().invoke(cli, ["ls", "--json"], obj=runtime, env=env)
        assert result.exit_code == 0, result.output
        return [found["stack"] for found in json.loads(result.stdout)["stacks"]]

    assert Engine(ctx, queue_steps(ctx)).up().ok
    assert listed() == ["dq"]
    assert Engine(ctx, queue_steps(ctx)).down().ok
    assert listed() == []


def test_the_inbox_receives_a_notification_published_as_soon_as_it_is_handed_over(
    emulator: Emulator, clock: Clock
) -> None:
    ctx = context(emulator, clock)
    sns, sqs = ctx.client("sns"), ctx.client("sqs")
    topic = sns.create_topic(Name="dq-Topic")["TopicArn"]
    with temporary_inbox(ctx, topic) as inbox:
        # The order's notification, as soon as test-order could post it.
        sns.publish(TopicArn=topic, Message="order 1 stored")
        received = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)
        bodies = [m["Body"] for m in received.get("Messages", [])]
    assert len(bodies) == 1 and "order 1 stored" in bodies[0], bodies  # and no probe left


def test_up_repairs_a_stack_whose_dead_letter_queue_was_deleted_by_hand(
    emulator: Emulator, clock: Clock
) -> None:
    """Confirming the order queue asks CreateQueue with its name alone: with the stack's
    attributes, its RedrivePolicy names a DLQ that is gone, and SQS refuses that."""
    ctx = context(emulator, clock)
    assert Engine(ctx, queue_steps(ctx)).up().ok
    sqs = ctx.client("sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="dq-Queue-DLQ")["QueueUrl"])
    clock.advance("queue_name_reuse")

    again = context(emulator, clock)
    health = check(again, queue_steps(again))
    assert {r.name: r.state for r in health.resources.values()} == {
        "dq-Queue-DLQ": MISSING,
        "dq-Queue": PRESENT,
        "dq-Stream-Failures": PRESENT,
    }
    report = Engine(again, queue_steps(again)).up()
    assert report.ok, report.results
    assert {r.title: r.outcome for r in report.results}["SQS queue dq-Queue-DLQ"] is Outcome.CREATED


def refuses_a_name_only_create_queue(session: Any) -> None:
    """The other reading of CreateQueue's documentation ("the exact names and values of all the
    queue's attributes"): a name-only request for an existing queue is QueueNameExists."""

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if json.loads(params["body"] or b"{}").get("Attributes"):
            return None
        error = {"Code": "QueueNameExists", "Message": "A queue already exists with this name."}
        return AWSResponse("https://sqs.invalid", 400, {}, None), {"Error": error}

    session.events.register("before-call.sqs.CreateQueue", answer)


@pytest.mark.parametrize("name_only", ["returns the URL", "is QueueNameExists"])
def test_a_second_up_changes_nothing_whichever_answer_a_name_only_create_queue_gets(
    emulator: Emulator, clock: Clock, name_only: str
) -> None:
    first = context(emulator, clock)
    assert Engine(first, queue_steps(first)).up().ok
    ctx = context(emulator, clock)
    if name_only == "is QueueNameExists":
        refuses_a_name_only_create_queue(ctx.session)
    again = Engine(ctx, queue_steps(ctx)).up()
    assert {r.outcome for r in again.results} == {Outcome.UNCHANGED}
    assert ctx.calls.mutating == []


class WindowEndsAtCreateQueue:
    """The queue's 60 s end just after the reads found it, before CreateQueue confirms it."""

    def __init__(self, session: Any, clock: Clock, name: str) -> None:
        self.clock, self.name, self.done = clock, name, False
        session.events.register("before-parameter-build.sqs.CreateQueue", self._ends)

    def _ends(self, params: dict[str, Any], **_: Any) -> None:
        if params["QueueName"] == self.name and not self.done:
            self.done = True
            self.clock.advance("queue_name_reuse")


def test_status_as_a_deleted_queue_s_60_seconds_end_creates_nothing(
    emulator: Emulator, clock: Clock
) -> None:
    ctx = context(emulator, clock)
    assert Engine(ctx, queue_steps(ctx)).up().ok
    sqs = ctx.client("sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="dq-Queue")["QueueUrl"])

    looking = context(emulator, clock)
    WindowEndsAtCreateQueue(looking.session, clock, "dq-Queue")
    health = check(looking, queue_steps(looking))
    assert health.resources["queue"].state == MISSING
    # Taking back what the confirmation made is a change, and is counted as one.
    assert [c.operation for c in looking.calls.mutating] == ["DeleteQueue"]
    clock.advance("queue_name_reuse")  # whatever was being deleted is gone now
    assert sqs.list_queues(QueueNamePrefix="dq-Queue").get("QueueUrls", []) == [
        sqs.get_queue_url(QueueName="dq-Queue-DLQ")["QueueUrl"]
    ]


def test_a_second_down_within_the_minute_finds_the_queues_gone(
    emulator: Emulator, clock: Clock
) -> None:
    ctx = context(emulator, clock)
    assert Engine(ctx, queue_steps(ctx)).up().ok
    assert {r.outcome for r in Engine(ctx, queue_steps(ctx)).down().results} == {Outcome.DELETED}
    again = context(emulator, clock)
    second = Engine(again, queue_steps(again)).down()
    assert {r.outcome for r in second.results} == {Outcome.ABSENT}


@pytest.mark.parametrize("checked", NAME_REUSE_CHECKED)
def test_up_right_after_down_recreates_a_queue_changed_by_hand_whichever_check_comes_first(
    emulator: Emulator, clock: Clock, checked: str
) -> None:
    """The queue being deleted has other attributes than the stack's (set by hand): SQS may
    compare them before refusing the name (QueueNameExists), or not (QueueDeletedRecently)."""
    emulator.aws.sqs.name_reuse_checked = checked
    first = context(emulator, clock)
    assert Engine(first, queue_steps(first)).up().ok
    sqs = first.client("sqs")
    # (Not the order queue: made after its DLQ, whose wait the test's clock counts.)
    url = sqs.get_queue_url(QueueName="dq-Stream-Failures")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "3600"})
    assert {r.outcome for r in Engine(first, queue_steps(first)).down().results} == {
        Outcome.DELETED
    }

    ctx = context(emulator, clock)
    again = Engine(ctx, queue_steps(ctx)).up()
    assert again.ok, again.results
    assert {r.outcome for r in again.results} == {Outcome.CREATED}
    clock.advance("queue_name_reuse")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    assert attributes["Attributes"]["MessageRetentionPeriod"] != "3600"


def test_a_confirmation_within_another_leaves_the_outer_one_a_confirmation(
    emulator: Emulator, clock: Clock
) -> None:
    ctx = context(emulator, clock)
    sqs = ctx.client("sqs")
    with ctx.confirming():
        with ctx.confirming():
            sqs.create_queue(QueueName="dq-Queue")
        sqs.create_queue(QueueName="dq-Queue")
    assert [c.operation for c in ctx.calls.calls if c.confirms] == ["CreateQueue"] * 2


def test_the_sweep_leaves_alone_a_live_queue_whose_tag_was_removed(
    emulator: Emulator, clock: Clock
) -> None:
    """The tagging API may still list a queue whose pocctl tag someone removed (to keep it):
    the sweep after `down` and `ls` read it and leave it be."""
    ctx = context(emulator, clock)
    assert Engine(ctx, queue_steps(ctx)).up().ok
    sqs = ctx.client("sqs")
    url = sqs.get_queue_url(QueueName="dq-Stream-Failures")["QueueUrl"]
    sqs.untag_queue(QueueUrl=url, TagKeys=["pocctl:stack"])

    looking = context(emulator, clock)
    assert QueueStep.leftover_at(looking, looking.arn("sqs", "dq-Stream-Failures")) is None
    assert looking.calls.mutating == []
    clock.advance("queue_name_reuse")
    assert sqs.get_queue_url(QueueName="dq-Stream-Failures")["QueueUrl"] == url


class TagRemovedAtCreateQueue:
    """Someone removes the stack's tag from the queue after the reads found it, before
    CreateQueue confirms it."""

    def __init__(self, session: Any, sqs: Any, url: str, name: str) -> None:
        self.sqs, self.url, self.name = sqs, url, name
        session.events.register("before-parameter-build.sqs.CreateQueue", self._untag)

    def _untag(self, params: dict[str, Any], **_: Any) -> None:
        if params["QueueName"] == self.name:
            self.sqs.untag_queue(QueueUrl=self.url, TagKeys=["pocctl:stack"])


def an_hour_old(session: Any) -> None:
    """AWS says the queue was created an hour ago (the emulator's queues are all new)."""

    def older(parsed: dict[str, Any], **_: Any) -> None:
        if "CreatedTimestamp" in parsed.get("Attributes", {}):
            created = float(parsed["Attributes"]["CreatedTimestamp"]) - 3600
            parsed["Attributes"]["CreatedTimestamp"] = str(created)

    session.events.register("after-call.sqs.GetQueueAttributes", older)


@pytest.mark.parametrize("left", ["a tag added by hand", "no tag, an hour old"])
def test_status_never_deletes_a_queue_whose_tag_is_removed_as_it_confirms_it(
    emulator: Emulator, clock: Clock, left: str
) -> None:
    ctx = context(emulator, clock)
    assert Engine(ctx, queue_steps(ctx)).up().ok
    sqs = ctx.client("sqs")
    url = sqs.get_queue_url(QueueName="dq-Queue")["QueueUrl"]
    if left == "a tag added by hand":
        sqs.tag_queue(QueueUrl=url, Tags={"team": "orders"})

    looking = context(emulator, clock)
    TagRemovedAtCreateQueue(looking.session, sqs, url, "dq-Queue")
    if left == "no tag, an hour old":
        an_hour_old(looking.session)
    check(looking, queue_steps(looking))
    assert looking.calls.mutating == []
    clock.advance("queue_name_reuse")
    assert sqs.get_queue_url(QueueName="dq-Queue")["QueueUrl"] == url


def test_up_refuses_a_queue_made_by_hand_between_its_plan_and_its_apply(
    emulator: Emulator, clock: Clock
) -> None:
    ctx = context(emulator, clock)
    step = next(s for s in queue_steps(ctx) if s.queue_name == "dq-Stream-Failures")
    plan = step.plan(ctx)
    assert plan.current is None
    sqs = ctx.client("sqs")
    url = sqs.create_queue(
        QueueName="dq-Stream-Failures", Attributes={"MessageRetentionPeriod": "3600"}
    )["QueueUrl"]
    with pytest.raises(ForeignResourceError):
        step.apply(ctx, plan)
    assert "DeleteQueue" not in [c.operation for c in ctx.calls.calls]
    clock.advance("queue_name_reuse")
    assert sqs.get_queue_url(QueueName="dq-Stream-Failures")["QueueUrl"] == url
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])
    assert attributes["Attributes"] == {"MessageRetentionPeriod": "3600"}
