"""`up`'s plans take the answers its CloudFormation check got instead of asking AWS again
(pocctl/core/shared_reads.py): each answer once, none after a write, each as AWS gave it."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.core import shared_reads
from pocctl.core.context import OWN_HANDLERS, RETRY_CONFIG, Context
from pocctl.core.retry import Policy, call_with_retries
from pocctl.core.session import new_session
from pocctl.core.shared_reads import SharedReads
from pocctl.core.telemetry import READ_PREFIXES, RecordedCall
from pocctl.ops.health import check
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps
from pocctl.resources.base import Outcome
from tests.as_cloudformation import ACCOUNT
from tests.cli_runs import up_ok
from tests.conftest import REGION, MakeContext
from tests.faults import FailCalls, runtime_with
from tests.test_cloudformation_owned import tag_as_cloudformation_would
from tests.test_cloudformation_owned import topic as topic_arn

SQS = f"https://sqs.{REGION}.amazonaws.com"


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


def second_up(make_ctx: MakeContext) -> tuple[Context, Sent]:
    """A no-op `up` of the stack made already, and what it sent."""
    ctx = make_ctx()
    sent = recorded(ctx)
    report = Engine(ctx, build_steps(ctx.config)).up()
    assert report.ok, report.results
    assert {r.outcome for r in report.results} == {Outcome.UNCHANGED}
    assert ctx.calls.mutating == []  # the plans found no change
    return ctx, sent


def test_a_second_up_sends_none_of_the_checks_reads_again(
    make_ctx: MakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read the check sent, the plans send once less than they would without its answers
    (a plan that reads the same twice sends its second read)."""
    ctx = make_ctx()
    first = Engine(ctx, build_steps(ctx.config)).up()
    assert first.ok, first.results
    _, shared = second_up(make_ctx)
    with monkeypatch.context() as unshared:
        unshared.setattr(SharedReads, "handed_on", SharedReads.kept)  # keeps, hands nothing on
        _, alone = second_up(make_ctx)
    # Outside the passes, the account (GetCallerIdentity) is asked too: once in each up.
    checked = Counter(r[1:] for r in shared if r[0] is None and r[1] != "GetCallerIdentity")
    assert checked == Counter(r[1:] for r in alone if r[0] is None and r[1] != "GetCallerIdentity")
    assert len(checked) >= 20  # tags of the functions, alarms, log groups, topics, mappings, API
    planned = Counter(request[1:] for request in shared if request[0] == "plan")
    planned_alone = Counter(request[1:] for request in alone if request[0] == "plan")
    assert planned_alone - planned == Counter(set(checked) & set(planned_alone))
    assert set(checked) <= set(planned_alone)  # every one of the check's reads, a plan makes


def test_verbose_prints_an_error_aws_answered_once_with_its_call(aws: None) -> None:
    """`-v` prints each error with the call AWS answered it to: the plans' GetFunction of the
    functions not made yet takes the check's answer, which was printed with the check's call;
    the errors of the reads the plans make themselves are printed with theirs."""
    result = up_ok(CliRunner(), "-v")
    before = result.output.split("aws lambda CreateFunction")[0]
    calls = re.findall(r"^  aws lambda GetFunction(?!.*answered)", before, flags=re.MULTILINE)
    errors = re.findall(
        r"^  aws lambda GetFunction answered ResourceNotFoundException", before, flags=re.M
    )
    assert len(calls) >= 4  # the stack's record, then the check, of each function
    assert len(errors) == len(calls)
    # A plan's own read (the check reads no topic's attributes) has its error printed too.
    before = result.output.split("aws sns CreateTopic")[0]
    reads = re.findall(r"^  aws sns GetTopicAttributes  \[", before, flags=re.MULTILINE)
    absent = re.findall(r"^  aws sns GetTopicAttributes answered NotFound", before, flags=re.M)
    assert len(reads) == len(absent) == 2  # the orders' topic and the alarms'


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


def test_an_answer_aws_did_not_give_is_not_kept(ctx: Context, topic: str) -> None:
    """A test's fault (an answer made before the call) is not AWS's: the plans ask AWS."""
    sns = ctx.client("sns")
    sent = recorded(ctx, sns)
    fault = FailCalls(sns, "GetTopicAttributes", "ThrottlingException", "slow down", times=1)
    with ctx.shared_reads.kept(), pytest.raises(ClientError, match="ThrottlingException"):
        sns.get_topic_attributes(TopicArn=topic)
    with ctx.shared_reads.handed_on():
        assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"] == topic
    assert fault.failed == 1
    assert len(sent.of("GetTopicAttributes")) == 1


@pytest.mark.parametrize("made", ["alike", "otherwise"])
def test_another_client_asks_aws(ctx: Context, topic: str, made: str) -> None:
    """An answer is handed on to the client that got it, not to another: not to one that retries
    otherwise, nor to one made with the very same botocore config."""
    config = RETRY_CONFIG if made == "alike" else BotoConfig(retries={"max_attempts": 2})
    sns, other = ctx.client("sns"), ctx.client_with("sns", config)
    sent = recorded(ctx, other)
    with ctx.shared_reads.kept():
        sns.get_topic_attributes(TopicArn=topic)
    with ctx.shared_reads.handed_on():
        other.get_topic_attributes(TopicArn=topic)
    assert len(sent.of("GetTopicAttributes")) == 1


@pytest.mark.parametrize(
    ("service", "operation"),
    [("apigateway", "GetExport"), ("lambda", "InvokeWithResponseStream")],
)
def test_a_stream_is_neither_kept_nor_handed_on(ctx: Context, service: str, operation: str) -> None:
    """A response with a stream in it (GetExport's body; an event stream) is read once, and
    can't be copied: it is not kept, and an answer under its key would not be handed on."""
    model = ctx.client(service).meta.service_model.operation_model(operation)
    assert model.has_streaming_output or model.has_event_stream_output
    request = {"method": "GET", "url": f"https://{service}.example/{operation}", "body": b""}
    reads = ctx.shared_reads
    with reads.passes():
        context: dict[str, Any] = {}
        with reads.kept():
            assert reads.before_call(model=model, params=request, context=context) is None
        assert context == {}  # not marked to be kept
        reads._answers[shared_reads._key(model, request, {})] = ({}, {"planted": True})
        with reads.handed_on():
            assert reads.before_call(model=model, params=request, context={}) is None


def test_up_forgets_what_its_check_kept_when_cloudformation_manages_the_stack(
    make_ctx: MakeContext,
) -> None:
    """`up` refuses a stack CloudFormation manages after its check, with no plans: a read the
    check made goes to AWS again afterwards, even in a pass that hands answers on."""
    first = make_ctx()
    assert Engine(first, build_steps(first.config)).up().ok
    tag_as_cloudformation_would(first.client)
    ctx = make_ctx()
    sent = recorded(ctx)
    report = Engine(ctx, build_steps(ctx.config)).up()
    assert report.managed
    checked = sent.of("ListTagsForResource")
    assert checked and {phase for phase, *_ in checked} == {None}
    arn = topic_arn(first.client)
    with ctx.shared_reads.handed_on():
        tags = ctx.client("sns").list_tags_for_resource(ResourceArn=arn)["Tags"]
    assert {"Key": "aws:cloudformation:logical-id", "Value": "Topic"} in tags
    assert len(sent.of("ListTagsForResource")) == len(checked) + 1


def test_nothing_kept_outlives_the_passes(ctx: Context, topic: str) -> None:
    """A first pass with no second (the check found CloudFormation's stack; Ctrl-C): what it
    kept is forgotten."""
    sns = ctx.client("sns")
    sent = recorded(ctx, sns)
    with ctx.shared_reads.passes() as reads, reads.kept():
        sns.get_topic_attributes(TopicArn=topic)
    with ctx.shared_reads.handed_on():
        sns.get_topic_attributes(TopicArn=topic)
    assert len(sent.of("GetTopicAttributes")) == 2


def test_a_released_client_carries_none_of_the_contexts_handlers(ctx: Context, topic: str) -> None:
    sns = ctx.client("sns")
    ctx.release()
    events = sns.meta.events._emitter._handlers  # botocore's _PrefixTrie of handlers
    for event in ("before-call", "request-created", "after-call", "after-call-error"):
        handlers = events.prefix_search(f"{event}.sns.GetTopicAttributes")
        assert not [h for h in handlers if getattr(h, "__func__", None) in OWN_HANDLERS]


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


class Waits:
    """Tells when a call starts waiting for an identical one on its way (SharedReads' calls on
    their way), and whether each wait ended as that one came back (True) or at a limit."""

    def __init__(self, ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = threading.Event()
        self.ended: list[bool] = []
        waits = self

        class Asking(dict[Any, Any]):
            def __setitem__(self, key: Any, asking: Any) -> None:
                wait = asking.wait

                def watched() -> None:
                    waits.started.set()
                    wait()
                    waits.ended.append(asking.back.is_set())

                asking.wait = watched
                super().__setitem__(key, asking)

        monkeypatch.setattr(ctx.shared_reads, "_asking", Asking())
        monkeypatch.setattr(shared_reads, "WAIT_LIMIT_SECONDS", 10.0)  # a mutant's cost


def held_until(released: threading.Event, fault: BaseException | None = None) -> Any:
    """A before-send handler: the first request is held until `released` (then fails with
    `fault`, if one is given); the others go."""
    first = threading.Lock()

    def hold(**_: Any) -> None:
        if first.acquire(blocking=False):
            assert released.wait(10), "the second call never waited for the first"
            if fault is not None:
                raise fault

    return hold


def test_a_shared_pass_asks_aws_each_thing_once_and_hands_every_caller_its_answer(
    ctx: Context, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call made while an identical one is on its way waits for that one's answer; a call
    made after it takes it too: three calls, one request."""
    sns = ctx.client("sns")
    sent = recorded(ctx, sns)
    waits = Waits(ctx, monkeypatch)
    sns.meta.events.register("before-send.sns.GetTopicAttributes", held_until(waits.started))
    with ctx.shared_reads.shared():
        first, second = ctx.together(
            lambda: sns.get_topic_attributes(TopicArn=topic)["Attributes"],
            lambda: sns.get_topic_attributes(TopicArn=topic)["Attributes"],
        )
        first["mine"] = second["mine"] = "changed"  # each caller has an answer of its own
        third = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert first["TopicArn"] == second["TopicArn"] == third["TopicArn"] == topic
    assert "mine" not in third
    assert len(sent.of("GetTopicAttributes")) == 1
    assert waits.ended == [True]
    assert [call.operation for call in ctx.calls.calls].count("GetTopicAttributes") == 1


def test_a_call_that_waited_for_one_that_failed_asks_aws_itself(
    ctx: Context, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sns = ctx.client("sns")
    sent = recorded(ctx, sns)
    waits = Waits(ctx, monkeypatch)
    broken = held_until(waits.started, ValueError("the connection broke"))
    sns.meta.events.register("before-send.sns.GetTopicAttributes", broken)

    def failed() -> str:
        with pytest.raises(ValueError, match="connection broke"):
            sns.get_topic_attributes(TopicArn=topic)
        return "failed"

    with ctx.shared_reads.shared():
        outcomes = ctx.together(
            failed, lambda: sns.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"]
        )
    assert outcomes == ["failed", topic]
    assert len(sent.of("GetTopicAttributes")) == 2
    assert waits.ended == [True]  # told at once, not at the limit


def test_a_call_waiting_for_one_a_fault_answered_asks_aws_itself(
    ctx: Context, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test's fault (a before-call handler's answer) is not AWS's: the call that waited for
    it is told at once, and asks AWS."""
    sns = ctx.client("sns")
    sent = recorded(ctx, sns)
    waits = Waits(ctx, monkeypatch)
    first = threading.Lock()

    def fault(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not first.acquire(blocking=False):
            return None
        assert waits.started.wait(10), "the second call never waited for the first"
        return AWSResponse("https://fault.invalid", 400, {}, None), {
            "Error": {"Code": "ThrottlingException", "Message": "slow down"}
        }

    sns.meta.events.register("before-call.sns.GetTopicAttributes", fault)

    def asked() -> str:
        try:
            return str(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"])
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])

    with ctx.shared_reads.shared():
        outcomes = ctx.together(asked, asked)
    assert sorted(outcomes) == sorted(["ThrottlingException", topic])
    assert len(sent.of("GetTopicAttributes")) == 1
    assert waits.ended == [True]  # told at once, not after the before-call handlers' time


def test_a_call_waits_for_one_whose_request_aws_is_slow_to_answer(
    ctx: Context, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a call's request is made, an identical call waits for it past the time given to
    the before-call handlers: until it comes back (or the limit)."""
    monkeypatch.setattr(shared_reads, "HANDLERS_WAIT_SECONDS", 0.05)
    sns = ctx.client("sns")
    sent = recorded(ctx, sns)
    past_the_handlers = threading.Event()  # the waiting call waits on, past their time

    class Back(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            if timeout is not None and timeout > shared_reads.HANDLERS_WAIT_SECONDS:
                past_the_handlers.set()
            return super().wait(timeout)

    class Asking(dict[Any, Any]):
        def __setitem__(self, key: Any, asking: Any) -> None:
            asking.back = Back()
            super().__setitem__(key, asking)

    monkeypatch.setattr(ctx.shared_reads, "_asking", Asking())
    sns.meta.events.register("before-send.sns.GetTopicAttributes", held_until(past_the_handlers))
    with ctx.shared_reads.shared():
        answers = ctx.together(
            lambda: sns.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"],
            lambda: sns.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"],
        )
    assert answers == [topic, topic]
    assert len(sent.of("GetTopicAttributes")) == 1


def test_a_call_waiting_for_one_a_handler_ended_asks_aws_in_its_place(
    ctx: Context, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call that another before-call handler ended with an exception never comes back: the
    next call made the same way waits the handlers' time, then asks AWS in its place, and the
    one after takes its answer; nothing waits for it again."""
    monkeypatch.setattr(shared_reads, "HANDLERS_WAIT_SECONDS", 0.05)
    sns = ctx.client("sns")
    sent = recorded(ctx, sns)
    waits = Waits(ctx, monkeypatch)
    first = threading.Lock()

    def bug(**_: Any) -> None:
        if first.acquire(blocking=False):
            raise RuntimeError("a bug in a handler")

    sns.meta.events.register("before-call.sns.GetTopicAttributes", bug)
    with ctx.shared_reads.shared():
        with pytest.raises(RuntimeError, match="a bug"):
            sns.get_topic_attributes(TopicArn=topic)
        asked = sns.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"]
        again = sns.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"]
        # A write forgets the answers; the call that never came back is not waited for again.
        sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="x")
        after = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert asked == again == after["TopicArn"] == topic and after["DisplayName"] == "x"
    assert waits.ended == [False]  # the one wait, for the call that never came back
    assert len(sent.of("GetTopicAttributes")) == 2


def test_a_fresh_read_asks_aws_and_its_answer_is_the_one_handed_on_after(
    ctx: Context, topic: str
) -> None:
    """`read_whole` reads again, fresh, what went away between two reads: AWS answers it (in
    the threads `together` starts as well), and the calls after it take that newer answer."""
    sns = ctx.client("sns")
    sent = recorded(ctx, sns)
    elsewhere = new_session(region_name=REGION).client("sns")  # someone else's change
    with ctx.shared_reads.shared():
        assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["DisplayName"] == ""
        elsewhere.set_topic_attributes(
            TopicArn=topic, AttributeName="DisplayName", AttributeValue="now"
        )
        with ctx.shared_reads.fresh():
            fresh, _ = ctx.together(
                lambda: sns.get_topic_attributes(TopicArn=topic)["Attributes"], lambda: None
            )
        after = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert fresh["DisplayName"] == after["DisplayName"] == "now"
    assert len(sent.of("GetTopicAttributes")) == 2


@contextmanager
def answered_late(sns: Any, topic: str) -> Iterator[None]:
    """A read of the topic made now, in a thread of its own: AWS answers it at once, with the
    topic as it is, and the answer comes back (to be kept, or not) as the block ends."""
    answered, back = threading.Event(), threading.Event()

    def held_after_aws_answered(**_: Any) -> None:  # botocore's needs-retry: answered, not kept
        if threading.current_thread().name == "late":
            answered.set()
            assert back.wait(10)

    sns.meta.events.register("needs-retry.sns.GetTopicAttributes", held_after_aws_answered)
    late = threading.Thread(
        target=lambda: sns.get_topic_attributes(TopicArn=topic), name="late", daemon=True
    )
    late.start()
    assert answered.wait(10)
    try:
        yield
    finally:
        back.set()
        late.join(10)


def test_an_answer_from_a_call_made_before_a_fresh_one_does_not_replace_it(
    ctx: Context, topic: str
) -> None:
    """A call made before a fresh one but back after it has the older answer: the fresh one's
    is the one kept."""
    sns = ctx.client("sns")
    elsewhere = new_session(region_name=REGION).client("sns")
    with ctx.shared_reads.shared():
        with answered_late(sns, topic):
            elsewhere.set_topic_attributes(
                TopicArn=topic, AttributeName="DisplayName", AttributeValue="now"
            )
            with ctx.shared_reads.fresh():
                answer = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
                assert answer["DisplayName"] == "now"
        after = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert after.get("DisplayName") == "now"


def test_an_answer_from_a_call_made_before_a_write_is_not_kept(ctx: Context, topic: str) -> None:
    """A read made before a write and back after it may have found what the write changed."""
    sns = ctx.client("sns")
    sent = recorded(ctx, sns)
    with ctx.shared_reads.shared():
        with answered_late(sns, topic):
            sns.set_topic_attributes(
                TopicArn=topic, AttributeName="DisplayName", AttributeValue="x"
            )
        after = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert after["DisplayName"] == "x"
    assert len(sent.of("GetTopicAttributes")) == 2


class RawBody:
    """A body for botocore's AWSResponse, as urllib3's response gives it."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def test_a_retry_in_a_shared_pass_asks_aws_again(ctx: Context, topic: str) -> None:
    """pocctl's own retries (API Gateway's conflicts, say) want what AWS says now: a refusal AWS
    gave is not handed back to the next try."""
    sns = ctx.client("sns")
    sent = recorded(ctx, sns)
    refused = threading.Lock()

    def too_many_requests(request: Any, **_: Any) -> AWSResponse | None:
        if not refused.acquire(blocking=False):
            return None
        body = b"<ErrorResponse><Error><Code>Conflict</Code><Message>busy</Message></Error>"
        return AWSResponse(request.url, 409, {}, RawBody(body + b"</ErrorResponse>"))

    sns.meta.events.register_first("before-send.sns.GetTopicAttributes", too_many_requests)
    policy = Policy(first=0.01, growth=1, cap=0.01, attempts=3, codes=frozenset({"Conflict"}))
    with ctx.shared_reads.shared():
        answer = call_with_retries(ctx, lambda: sns.get_topic_attributes(TopicArn=topic), policy)
    assert answer["Attributes"]["TopicArn"] == topic
    assert len(sent.of("GetTopicAttributes")) == 2


def test_a_read_made_again_in_up_asks_aws_even_where_the_check_answered_it(
    ctx: Context, topic: str, checked: tuple[Any, Sent]
) -> None:
    """And the check's answer, older than what the fresh read found, is handed to no one."""
    sns, sent = checked
    with ctx.shared_reads.handed_on():
        with ctx.shared_reads.fresh():
            sns.get_topic_attributes(TopicArn=topic)
        sns.get_topic_attributes(TopicArn=topic)
    assert len(sent.of("GetTopicAttributes")) == 3


def test_nothing_shared_outlives_the_pass(ctx: Context, topic: str) -> None:
    sns = ctx.client("sns")
    sent = recorded(ctx, sns)
    with ctx.shared_reads.shared():
        sns.get_topic_attributes(TopicArn=topic)
    sns.get_topic_attributes(TopicArn=topic)
    with ctx.shared_reads.handed_on():
        sns.get_topic_attributes(TopicArn=topic)
    with ctx.shared_reads.shared():
        sns.get_topic_attributes(TopicArn=topic)
    assert len(sent.of("GetTopicAttributes")) == 4


def test_status_asks_aws_each_thing_once(make_ctx: MakeContext) -> None:
    """`status` reads the plans, the CloudFormation check and each resource's doings side by
    side, which ask many of the same things: each request reaches AWS once. Each queue's tags
    are read again after the CreateQueue that confirms the queue is not one being deleted (had
    its 60 s just ended, the CreateQueue made a new queue, untagged: queues.being_deleted)."""
    ctx = make_ctx()
    assert Engine(ctx, build_steps(ctx.config)).up().ok
    ctx = make_ctx()
    sent = recorded(ctx)
    health = check(ctx, build_steps(ctx.config))
    assert health.healthy, health.problems
    requests = Counter((operation, url, body) for _, operation, url, body in sent)
    repeated = [(r[0], r[2], n) for r, n in requests.items() if n > 1]
    assert {(operation, n) for operation, _, n in repeated} == {("ListQueueTags", 2)}
    queues = ("POC-Queue", "POC-Queue-DLQ", "POC-Stream-Failures")
    urls = sorted(json.loads(body)["QueueUrl"] for _, body, _ in repeated)
    assert urls == [f"{SQS}/{ACCOUNT}/{name}" for name in queues]
    assert requests[next(r for r in requests if r[0] == "GetFunction")] == 1
    assert len(sent) >= 50


def test_a_log_search_in_a_shared_pass_forgets_nothing(ctx: Context, topic: str) -> None:
    """status reads the writer's last error with FilterLogEvents, a read: the answers the pass
    shares are still handed on after it."""
    sns = ctx.client("sns")
    sent = recorded(ctx, sns)
    ctx.client("logs").create_log_group(logGroupName="/aws/lambda/POC-Lambda-1")
    with ctx.shared_reads.shared():
        sns.get_topic_attributes(TopicArn=topic)
        ctx.client("logs").filter_log_events(logGroupName="/aws/lambda/POC-Lambda-1")
        sns.get_topic_attributes(TopicArn=topic)
    assert len(sent.of("GetTopicAttributes")) == 1


@pytest.mark.parametrize(
    ("operation", "reads"),
    [("FilterLogEvents", True), ("Scan", True), ("ReceiveMessage", False), ("PutItem", False)],
)
def test_an_operation_that_changes_nothing_is_a_read(operation: str, reads: bool) -> None:
    """A read (a log search, a table scan) keeps what a pass shares; ReceiveMessage hides the
    messages it gets (their visibility timeout): a write."""
    assert RecordedCall("logs", operation).mutating is not reads
    assert operation.startswith(READ_PREFIXES) is reads


def test_a_pass_within_a_pass_is_part_of_it(ctx: Context, topic: str) -> None:
    """The inner pass (status's check, within ls's) keeps what the outer one had and leaves it
    as it ends, even by an exception; the outer one's end forgets everything."""
    sns = ctx.client("sns")
    sent = recorded(ctx, sns)
    reads = ctx.shared_reads
    with reads.shared():
        sns.get_topic_attributes(TopicArn=topic)
        with reads.shared():
            sns.get_topic_attributes(TopicArn=topic)
        with pytest.raises(RuntimeError), reads.shared():
            raise RuntimeError("a bug")
        sns.get_topic_attributes(TopicArn=topic)
    assert len(sent.of("GetTopicAttributes")) == 1
    sns.get_topic_attributes(TopicArn=topic)
    with reads.shared():
        sns.get_topic_attributes(TopicArn=topic)
    assert len(sent.of("GetTopicAttributes")) == 3


def test_errors_forgotten_are_asked_again_and_answers_are_not(ctx: Context, topic: str) -> None:
    """ls sets aside the refusals its confirming got: its judging asks AWS again."""
    sns = ctx.client("sns")
    sent = recorded(ctx, sns)
    gone = topic.replace(":shared", ":gone")
    with ctx.shared_reads.shared():
        sns.get_topic_attributes(TopicArn=topic)
        with pytest.raises(ClientError):
            sns.get_topic_attributes(TopicArn=gone)
        ctx.shared_reads.forget_errors()
        sns.get_topic_attributes(TopicArn=topic)
        with pytest.raises(ClientError):
            sns.get_topic_attributes(TopicArn=gone)
    assert len(sent.of("GetTopicAttributes")) == 3


def test_ls_reads_each_stack_in_one_pass(aws: None) -> None:
    """`ls` confirms a stack's tagged resources, then judges the stack with `status`'s check,
    which asks much the same: one context a stack, whose pass shares the answers. What is asked
    again: each queue's confirmation (CreateQueue, a write, by both) and its tags after it
    (fresh), and the account, by the stack's context as by the command's."""
    up_ok(CliRunner(), "--email", "ops@example.com")
    sent: list[tuple[str, str, Any]] = []

    def recording(session: Any) -> None:
        def record(request: Any, event_name: str, **_: Any) -> None:
            sent.append((event_name.split(".")[-1], request.url, request.body))

        session.events.register("before-send.*.*", record)

    listed = CliRunner().invoke(cli, ["ls", "--json"], obj=runtime_with(recording))
    assert listed.exit_code == 0, listed.output
    assert [s["health"] for s in json.loads(listed.stdout)["stacks"]] == ["healthy"]
    requests = Counter(sent)
    repeated = Counter((request[0], times) for request, times in requests.items() if times > 1)
    assert repeated == {("ListQueueTags", 3): 3, ("CreateQueue", 2): 3, ("GetCallerIdentity", 2): 1}


def test_ls_judges_a_stack_without_the_refusals_its_confirming_got(aws: None) -> None:
    """A refusal that passes (AWS denied one read, once) while ls confirms a stack's tagged
    resources keeps the resource listed; judging the stack asks AWS again, not that refusal."""
    up_ok(CliRunner())
    refused = threading.Lock()

    def denied_once(request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        if event_name != "before-send.lambda.GetFunction" or not refused.acquire(blocking=False):
            return None
        body = json.dumps({"__type": "AccessDeniedException", "message": "denied"}).encode()
        return AWSResponse(request.url, 403, {}, RawBody(body))

    def refusing(session: Any) -> None:
        # On every call: one on the operation's own event name breaks botocore's unregistering
        # of the Lambda pacer as the command's context is released.
        session.events.register_first("before-send.*.*", denied_once)

    listed = CliRunner().invoke(cli, ["ls", "--json"], obj=runtime_with(refusing))
    assert listed.exit_code == 0, listed.output
    assert refused.locked()  # the refusal was given
    assert [s["health"] for s in json.loads(listed.stdout)["stacks"]] == ["healthy"]
