"""Who may do what, as AWS judges it: the API's integration role, account principals in resource
policies, and a function invoked while an update is in progress.

On the emulator's clock, which the test moves forward (see test_aws_behaviours).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pocctl.local.aws.timing import Timing
from pocctl.local.emulator import ACCOUNT, Emulator
from pocctl.ops.invoke import invoke

from .emulated import local_context
from .test_aws_behaviours import Clock, client, code_of, make_role, zipped


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log() -> list[str]:
    return []


@pytest.fixture
def emulator(clock: Clock, log: list[str]) -> Iterator[Emulator]:
    with Emulator(port=0, timing=Timing(), clock=clock, log=log.append) as running:
        yield running


# -- the API's integration role ---------------------------------------------------------------
# These guard behaviour the emulator had before its integration role was judged this way (a
# role API Gateway can't assume, one IAM hasn't propagated, one without sqs:SendMessage): they
# pass on that emulator too, except for the execution log line, which is new and checked.
API_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "apigateway.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
SEND_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}],
}


def api_role(
    emulator: Emulator, name: str, *, trust: dict[str, Any] = API_TRUST, send: bool = True
) -> str:
    iam = client(emulator, "iam")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    if send:
        iam.put_role_policy(
            RoleName=name, PolicyName="send", PolicyDocument=json.dumps(SEND_POLICY)
        )
    return arn


def order_api(emulator: Emulator, clock: Clock, role: str) -> tuple[str, str]:
    """POST /order -> SQS SendMessage with `role`, deployed to stage prod, as pocctl builds it
    (a queue error's status, 4xx, is passed on as 400 with SQS's answer); (order URL, queue URL)."""
    sqs = client(emulator, "sqs")
    queue = sqs.create_queue(QueueName="orders")["QueueUrl"]
    clock.advance("queue_new")
    ag = client(emulator, "apigateway")

    def change(call: Any, **params: Any) -> Any:
        done = call(**params)
        clock.advance("api_change")  # API Gateway applies one change at a time per API
        return done

    api = change(ag.create_rest_api, name="orders")["id"]
    root = ag.get_resources(restApiId=api)["items"][0]["id"]
    order = change(ag.create_resource, restApiId=api, parentId=root, pathPart="order")["id"]
    method = {"restApiId": api, "resourceId": order, "httpMethod": "POST"}
    change(ag.put_method, **method, authorizationType="NONE")
    change(
        ag.put_integration,
        **method,
        type="AWS",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:us-east-1:sqs:path/{ACCOUNT}/orders",
        credentials=role,
        requestParameters={
            "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
        },
        requestTemplates={
            "application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
        },
    )
    for status in ("200", "400"):
        change(ag.put_method_response, **method, statusCode=status)
    change(ag.put_integration_response, **method, statusCode="200", selectionPattern="")
    change(ag.put_integration_response, **method, statusCode="400", selectionPattern="4\\d{2}")
    change(ag.create_deployment, restApiId=api, stageName="prod")
    return f"{emulator.endpoint_url}/restapis/{api}/prod/_user_request_/order", queue


def post(url: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=b'{"item": "mop"}', headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def queued(emulator: Emulator, queue: str) -> list[str]:
    found = client(emulator, "sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    return [m["Body"] for m in found.get("Messages", [])]


def test_a_role_that_does_not_trust_api_gateway_fails_every_order_with_500(
    emulator: Emulator, clock: Clock, log: list[str]
) -> None:
    lambdas_only = {**API_TRUST, "Statement": [{**API_TRUST["Statement"][0]}]}
    lambdas_only["Statement"][0]["Principal"] = {"Service": "lambda.amazonaws.com"}
    role = api_role(emulator, "wrong-trust", trust=lambdas_only)
    clock.advance("iam_propagation")
    url, queue = order_api(emulator, clock, role)
    assert post(url) == (500, {"message": "Internal server error"})
    assert queued(emulator, queue) == []
    assert any(
        "Execution failed due to configuration error: API Gateway does not have permission to "
        f"assume the provided role {role}" in line
        for line in log
    )


def test_a_new_integration_role_serves_orders_only_once_iam_has_propagated_it(
    emulator: Emulator, clock: Clock
) -> None:
    role = api_role(emulator, "fresh")
    url, queue = order_api(emulator, clock, role)  # on the test's clock, within propagation
    assert post(url) == (500, {"message": "Internal server error"})
    assert queued(emulator, queue) == []
    clock.advance("iam_propagation")
    status, answer = post(url)
    assert status == 200, answer
    assert queued(emulator, queue) == ['{"item": "mop"}']


def test_an_integration_role_without_send_message_gets_sqss_access_denied_through_the_mapping(
    emulator: Emulator, clock: Clock
) -> None:
    role = api_role(emulator, "no-send", send=False)
    clock.advance("iam_propagation")
    url, queue = order_api(emulator, clock, role)
    status, answer = post(url)
    assert status == 400  # SQS's 403, chosen by the 4\d{2} integration response
    assert answer["Error"]["Code"] == "AccessDenied"
    assert queued(emulator, queue) == []


def test_a_removed_send_permission_still_sends_until_iam_has_propagated_the_change(
    emulator: Emulator, clock: Clock
) -> None:
    role = api_role(emulator, "revoked")
    clock.advance("iam_propagation")
    url, queue = order_api(emulator, clock, role)
    assert post(url)[0] == 200
    client(emulator, "iam").delete_role_policy(RoleName="revoked", PolicyName="send")
    assert post(url)[0] == 200  # API Gateway's SQS call is judged on the policy as it was
    clock.advance("iam_propagation")
    assert post(url)[0] == 400
    assert len(queued(emulator, queue)) == 2


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
    return sent_with(emulator.client_as("sqs", "us-east-1", role), url)


def sent_with(sqs: Any, url: str) -> str:
    """ "sent", or the error code of SendMessage made with this client."""
    try:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "sent"


# -- a managed policy's new version ----------------------------------------------------------
NO_SEND = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}],
}


def sending_policy(emulator: Emulator) -> str:
    """A managed policy that allows SendMessage; its ARN."""
    made = client(emulator, "iam").create_policy(
        PolicyName="sends", PolicyDocument=json.dumps(SEND_POLICY)
    )
    return str(made["Policy"]["Arn"])


def stop_sending(emulator: Emulator, policy: str) -> None:
    """A new default version of the policy, without SendMessage."""
    client(emulator, "iam").create_policy_version(
        PolicyArn=policy, PolicyDocument=json.dumps(NO_SEND), SetAsDefault=True
    )


def plain_queue(emulator: Emulator, clock: Clock) -> str:
    url: str = client(emulator, "sqs").create_queue(QueueName="orders")["QueueUrl"]
    clock.advance("queue_new")
    return url


def test_a_managed_policys_new_version_reaches_the_roles_it_is_attached_to_once_propagated(
    emulator: Emulator, clock: Clock
) -> None:
    policy = sending_policy(emulator)
    attached = make_role(emulator, "attached")
    client(emulator, "iam").attach_role_policy(RoleName="attached", PolicyArn=policy)
    bystander = make_role(emulator, "bystander", SEND_POLICY)  # the same grant, inline
    clock.advance("iam_propagation")
    url = plain_queue(emulator, clock)
    assert sent_as(emulator, attached, url) == "sent"
    stop_sending(emulator, policy)
    assert sent_as(emulator, attached, url) == "sent"  # SQS sees the old version a while
    clock.advance("iam_propagation")
    assert sent_as(emulator, attached, url) == "AccessDenied"
    assert sent_as(emulator, bystander, url) == "sent"


def test_a_managed_policys_new_version_reaches_a_user_through_its_group_and_a_role_it_bounds(
    emulator: Emulator, clock: Clock
) -> None:
    iam = client(emulator, "iam")
    sends = sending_policy(emulator)
    bounded = make_role(emulator, "bounded", SEND_POLICY)
    iam.put_role_permissions_boundary(RoleName="bounded", PermissionsBoundary=sends)
    iam.create_group(GroupName="senders")
    iam.attach_group_policy(GroupName="senders", PolicyArn=sends)
    iam.create_user(UserName="clerk")
    iam.add_user_to_group(GroupName="senders", UserName="clerk")
    key = iam.create_access_key(UserName="clerk")["AccessKey"]
    clock.advance("iam_propagation")
    url = plain_queue(emulator, clock)
    clerk = client(emulator, "sqs", key)
    assert (sent_as(emulator, bounded, url), sent_with(clerk, url)) == ("sent", "sent")
    stop_sending(emulator, sends)
    clock.advance("iam_propagation")
    denied = ("AccessDenied", "AccessDenied")
    assert (sent_as(emulator, bounded, url), sent_with(clerk, url)) == denied


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


@pytest.mark.parametrize(
    ("principal", "answer"), [(ACCOUNT, "AccessDeniedException"), ("caller", "invoked")]
)
def test_a_function_policy_naming_the_account_grants_a_role_nothing_naming_the_role_does(
    emulator: Emulator, clock: Clock, principal: str, answer: str
) -> None:
    caller = make_role(emulator, "caller")
    runner = make_role(emulator, "runner")
    clock.advance("iam_propagation")
    lam = client(emulator, "lambda")
    lam.create_function(
        FunctionName="f",
        Runtime="python3.13",
        Role=runner,
        Handler="app.handler",
        Code={"ZipFile": returning("ran")},
    )
    clock.advance("function_pending")
    lam.add_permission(
        FunctionName="f",
        StatementId="callers",
        Action="lambda:InvokeFunction",
        Principal=caller if principal == "caller" else principal,
    )
    try:
        emulator.client_as("lambda", "us-east-1", caller).invoke(FunctionName="f", Payload=b"{}")
    except ClientError as exc:
        assert str(exc.response["Error"]["Code"]) == answer
    else:
        assert answer == "invoked"


def queue_with_policy(emulator: Emulator, clock: Clock, *statements: dict[str, Any]) -> str:
    """A queue whose own policy holds `statements` (their Resource: the queue); its URL."""
    sqs = client(emulator, "sqs")
    url: str = sqs.create_queue(QueueName="guarded")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {"Version": "2012-10-17", "Statement": [{**s, "Resource": arn} for s in statements]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    clock.advance("queue_new")
    return url


DENY_SEND = {"Effect": "Deny", "Action": "sqs:SendMessage"}


@pytest.mark.parametrize("denied", ["role", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root"])
def test_a_deny_in_the_queues_policy_beats_the_roles_own_allow(
    emulator: Emulator, clock: Clock, denied: str
) -> None:
    allowed = make_role(emulator, "allowed", {"Version": "2012-10-17", "Statement": [SEND]})
    clock.advance("iam_propagation")
    principal = allowed if denied == "role" else denied
    url = queue_with_policy(emulator, clock, {**DENY_SEND, "Principal": {"AWS": principal}})
    assert sent_as(emulator, allowed, url) == "AccessDenied"


def test_a_deny_naming_the_account_beats_an_allow_naming_the_role(
    emulator: Emulator, clock: Clock
) -> None:
    bare = make_role(emulator, "bare")
    clock.advance("iam_propagation")
    url = queue_with_policy(
        emulator,
        clock,
        {**SEND, "Principal": {"AWS": bare}},
        {**DENY_SEND, "Principal": {"AWS": ACCOUNT}},
    )
    assert sent_as(emulator, bare, url) == "AccessDenied"


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
