"""Who may do what, as AWS judges it: the API's integration role, account principals in resource
policies, and a function invoked while an update is in progress.

On the emulator's clock, which the test moves forward (see test_aws_behaviours).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pocctl.invoke import invoke
from pocctl.local.aws.timing import Timing
from pocctl.local.emulator import ACCOUNT, Emulator

from .emulated import local_context
from .test_aws_behaviours import Clock, client, code_of, make_role, zipped


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(clock: Clock) -> Iterator[Emulator]:
    with Emulator(port=0, timing=Timing(), clock=clock) as running:
        yield running


# -- account principals in a resource policy ---------------------------------------------------
SEND = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}


def queue_allowing(emulator: Emulator, clock: Clock, principal: Any) -> str:
    """A queue whose own policy allows `principal` to send to it; its URL."""
    sqs = client(emulator, "sqs")
    url: str = sqs.create_queue(QueueName="orders")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    statement = {**SEND, "Principal": {"AWS": principal}, "Resource": arn}
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    clock.advance("queue_new")
    return url


def sent_as(emulator: Emulator, role: str, url: str) -> str:
    """ "sent", or the error code of SendMessage made with the role's credentials."""
    try:
        emulator.client_as("sqs", "us-east-1", role).send_message(QueueUrl=url, MessageBody="x")
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "sent"


@pytest.mark.parametrize("account", [ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root"])
def test_a_queue_policy_naming_the_account_needs_the_roles_own_policy_too(
    emulator: Emulator, clock: Clock, account: str
) -> None:
    bare = make_role(emulator, "bare")
    allowed = make_role(emulator, "allowed", {"Version": "2012-10-17", "Statement": [SEND]})
    clock.advance("iam_propagation")
    url = queue_allowing(emulator, clock, account)
    assert sent_as(emulator, bare, url) == "AccessDenied"
    assert sent_as(emulator, allowed, url) == "sent"


def test_a_queue_policy_naming_the_role_grants_it_alone(emulator: Emulator, clock: Clock) -> None:
    bare = make_role(emulator, "bare")
    clock.advance("iam_propagation")
    url = queue_allowing(emulator, clock, bare)
    assert sent_as(emulator, bare, url) == "sent"
    other = make_role(emulator, "other")
    clock.advance("iam_propagation")
    assert sent_as(emulator, other, url) == "AccessDenied"


# -- Invoke while an update is in progress ----------------------------------------------------
def answer_of(emulator: Emulator, function: str) -> Any:
    answer = client(emulator, "lambda").invoke(FunctionName=function, Payload=b"{}")
    return json.loads(answer["Payload"].read())


def returning(value: str) -> bytes:
    return zipped(f"def handler(event, context):\n    return {value!r}\n")


def test_a_function_is_refused_while_pending_and_runs_its_old_code_while_updating(
    emulator: Emulator, clock: Clock
) -> None:
    role = make_role(emulator, "runner")
    clock.advance("iam_propagation")
    lam = client(emulator, "lambda")
    lam.create_function(
        FunctionName="f",
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": returning("old")},
    )
    with pytest.raises(ClientError, match="following state: Pending") as refused:
        answer_of(emulator, "f")
    assert code_of(refused) == "ResourceConflictException"
    clock.advance("function_pending")
    assert answer_of(emulator, "f") == "old"

    updated = lam.update_function_code(FunctionName="f", ZipFile=returning("new"))
    assert updated["LastUpdateStatus"] == "InProgress"
    assert answer_of(emulator, "f") == "old"  # invoked, not refused: the code before the update
    clock.advance("function_updating")
    assert answer_of(emulator, "f") == "new"


def test_pocctl_invoke_runs_the_code_an_update_in_progress_brings(
    emulator: Emulator, clock: Clock
) -> None:
    role = make_role(emulator, "runner")
    clock.advance("iam_propagation")
    lam = client(emulator, "lambda")
    lam.create_function(
        FunctionName="f",
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": returning("old")},
    )
    clock.advance("function_pending")
    lam.update_function_code(FunctionName="f", ZipFile=returning("new"))
    ctx = local_context(emulator, "judged")
    ctx.sleep = clock.sleep  # pocctl's pauses move AWS's clock on
    assert invoke(ctx, "f", {}).response == "new"
