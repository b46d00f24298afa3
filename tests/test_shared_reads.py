"""`up`'s plans take the answers its CloudFormation check got instead of asking AWS again
(pocctl/core/shared_reads.py): each answer once, none after a write, each as AWS gave it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.reporting import RecordingReporter
from pocctl.core.session import new_session
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps
from pocctl.resources.base import Outcome
from tests.conftest import REGION, MakeContext


class Sent(list[tuple[str | None, str, str, bytes | str | None]]):
    """The requests that reached AWS (moto), with the engine pass that sent each."""

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self._ctx = ctx

    def __call__(self, request: Any, event_name: str, **_: Any) -> None:
        phase, _, _ = self._ctx.label()
        self.append((phase, event_name.split(".")[-1], request.url, request.body))

    def of(self, operation: str) -> list[tuple[str | None, str, str, bytes | str | None]]:
        return [sent for sent in self if sent[1] == operation]


def recorded(ctx: Context, client: Any = None) -> Sent:
    """Records what `client` sends from now on, or every client the context makes later (a
    client copies its session's handlers as it is made)."""
    sent = Sent(ctx)
    events = ctx.session.events if client is None else client.meta.events
    events.register("before-send.*.*", sent)
    return sent


@pytest.fixture
def ctx(aws: None) -> Context:
    return Context(
        Config(stack="POC", region=REGION),
        RecordingReporter(),
        session=new_session(region_name=REGION),
        sleep=lambda _: None,
    )


@pytest.fixture
def topic(ctx: Context) -> str:
    """A topic, and another beside it."""
    ctx.client("sns").create_topic(Name="other")
    arn: str = ctx.client("sns").create_topic(Name="shared")["TopicArn"]
    return arn


@pytest.fixture
def checked(ctx: Context, topic: str) -> tuple[Any, Sent]:
    """The topic's attributes read in a first pass, which keeps them: the SNS client, and what
    it sent (that read included)."""
    sns = ctx.client("sns")
    sent = recorded(ctx, sns)
    with ctx.shared_reads.kept():
        sns.get_topic_attributes(TopicArn=topic)
    return sns, sent


def test_a_second_up_sends_none_of_the_checks_reads_again(make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    first = Engine(ctx, build_steps(ctx.config)).up()
    assert first.ok, first.results
    ctx = make_ctx()
    sent = recorded(ctx)
    report = Engine(ctx, build_steps(ctx.config)).up()
    assert report.ok, report.results
    assert {r.outcome for r in report.results} == {Outcome.UNCHANGED}
    assert ctx.calls.mutating == []  # the plans, made from the check's answers, found no change
    checked = {request[1:] for request in sent if request[0] is None}
    planned = {request[1:] for request in sent if request[0] == "plan"}
    assert len(checked) >= 20  # tags of the functions, alarms, log groups, topics, mappings, API
    assert planned and not checked & planned


def test_an_answer_is_handed_on_once_then_aws_is_asked(
    ctx: Context, topic: str, checked: tuple[Any, Sent]
) -> None:
    sns, sent = checked
    with ctx.shared_reads.handed_on():
        assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"] == topic
        assert len(sent.of("GetTopicAttributes")) == 1
        sns.get_topic_attributes(TopicArn=topic)
        assert len(sent.of("GetTopicAttributes")) == 2
    # The answer handed on is no call: the call log (-v, the tests) does not list it.
    assert [call.operation for call in ctx.calls.calls].count("GetTopicAttributes") == 2


def test_another_request_of_the_same_operation_is_not_answered(
    ctx: Context, topic: str, checked: tuple[Any, Sent]
) -> None:
    sns, sent = checked
    other = topic.replace(":shared", ":other")  # made before the first pass (`topic`)
    with ctx.shared_reads.handed_on():
        answer = sns.get_topic_attributes(TopicArn=other)["Attributes"]
    assert answer["TopicArn"] == other
    assert len(sent.of("GetTopicAttributes")) == 2


def test_a_write_forgets_what_was_kept(ctx: Context, topic: str, checked: tuple[Any, Sent]) -> None:
    sns, sent = checked
    with ctx.shared_reads.handed_on():
        sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="x")
        answer = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert answer["DisplayName"] == "x"
    assert len(sent.of("GetTopicAttributes")) == 2


def test_a_write_that_only_confirms_forgets_nothing(
    ctx: Context, topic: str, checked: tuple[Any, Sent]
) -> None:
    sns, sent = checked
    with ctx.shared_reads.handed_on():
        with ctx.confirming():
            sns.create_topic(Name="shared")  # the topic there already: changes nothing
        sns.get_topic_attributes(TopicArn=topic)
    assert len(sent.of("GetTopicAttributes")) == 1


def test_an_error_is_handed_on_as_the_same_error(ctx: Context) -> None:
    lam = ctx.client("lambda")
    sent = recorded(ctx, lam)
    with ctx.shared_reads.kept(), pytest.raises(ClientError) as checked:
        lam.get_function(FunctionName="absent")
    with ctx.shared_reads.handed_on(), pytest.raises(ClientError) as planned:
        lam.get_function(FunctionName="absent")
    assert type(planned.value) is type(checked.value)
    assert planned.value.response["Error"] == checked.value.response["Error"]
    assert planned.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert len(sent.of("GetFunction")) == 1


def test_what_the_first_reader_did_to_its_answer_is_not_handed_on(ctx: Context, topic: str) -> None:
    sns = ctx.client("sns")
    with ctx.shared_reads.kept():
        sns.get_topic_attributes(TopicArn=topic)["Attributes"].clear()
    with ctx.shared_reads.handed_on():
        assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"] == topic


def test_an_answer_botocore_reworks_is_reworked_as_aws_gave_it(ctx: Context) -> None:
    """botocore decodes IAM's policy documents after the call (handlers.json_decode_policies):
    the answer handed on is decoded as a fresh one is, from what IAM sent."""
    iam = ctx.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "*"}
        ],
    }
    iam.create_role(RoleName="shared", AssumeRolePolicyDocument=json.dumps(trust))
    with ctx.shared_reads.kept():
        checked = iam.get_role(RoleName="shared")["Role"]
    with ctx.shared_reads.handed_on():
        planned = iam.get_role(RoleName="shared")["Role"]
    assert planned["AssumeRolePolicyDocument"] == checked["AssumeRolePolicyDocument"] == trust


def test_nothing_is_kept_or_handed_on_outside_the_two_passes(
    ctx: Context, topic: str, checked: tuple[Any, Sent]
) -> None:
    sns, sent = checked
    with ctx.shared_reads.handed_on():
        pass
    sns.get_topic_attributes(TopicArn=topic)  # what the second pass left is forgotten
    sns.get_topic_attributes(TopicArn=topic)  # and nothing was kept meanwhile
    with ctx.shared_reads.handed_on():
        sns.get_topic_attributes(TopicArn=topic)
    assert len(sent.of("GetTopicAttributes")) == 4
