"""Small helpers around botocore: error codes, waiting, and the retries botocore won't do."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TypeVar

from botocore.exceptions import ClientError

from pocctl.core.context import Context
from pocctl.core.errors import StepError
from pocctl.core.reporting import Why
from pocctl.core.retry import Again, Policy, call_with_retries, keep_trying
from pocctl.core.retry import error_code as error_code
from pocctl.core.retry import error_message as error_message

T = TypeVar("T")

NOT_FOUND_CODES = frozenset(
    {
        "NoSuchEntity",
        "ResourceNotFoundException",
        "NotFoundException",
        "NotFound",
        "ResourceNotFound",  # SNS ListTagsForResource (botocore: ResourceNotFoundException)
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    }
)

# Messages AWS returns while a role or policy changed seconds ago has not reached Lambda yet:
# CreateFunction's, the SQS mapping's, and the DynamoDB stream mapping's (which names the stream:
# aws-samples/lambda-refarch-webapp#7, serverless/serverless#1441).
PROPAGATION_MESSAGES = (
    "cannot be assumed by Lambda",
    "execution role does not have permissions",
    "The provided execution role does not have permissions",
    "Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream",
)
PROPAGATION_LIMIT_SECONDS = 120.0
# Said where AWS publishes no duration for what pocctl waits for.
NO_FIGURE = "AWS gives no figure for how long"
PROPAGATION_RETRY_CAP = 0.5
# A new role reaches Lambda in 5-10 s (ansible-collections/community.aws#710, aws/aws-cli#7700).
PROPAGATION_TYPICAL_SECONDS = 10.0

HINTS = {
    "AccessDenied": "Your credentials lack this permission: check the IAM policy of the user "
    "or role pocctl runs as.",
    "AccessDeniedException": "Your credentials lack this permission: check the IAM policy of "
    "the user or role pocctl runs as.",
    "ExpiredToken": "Your session credentials have expired: refresh them (aws sso login, or new "
    "keys) and run the command again.",
    "ExpiredTokenException": "Your session credentials have expired: refresh them and run the "
    "command again.",
    "UnrecognizedClientException": "The credentials are not valid for this account or endpoint.",
    "InvalidClientTokenId": "The credentials are not valid for this account or endpoint.",
    "LimitExceededException": "An account limit was reached: remove unused resources or ask "
    "AWS for a higher quota.",
}


def is_not_found(exc: ClientError) -> bool:
    return error_code(exc) in NOT_FOUND_CODES


def none_if_absent(read: Callable[[], T]) -> T | None:
    """What `read` returns, or None if AWS says the resource doesn't exist."""
    try:
        return read()
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise


@contextmanager
def aws_errors(step: str, operation: str) -> Iterator[None]:
    """Turn a ClientError into a StepError naming the step, the operation and the AWS code."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        raise StepError(step, operation, code, error_message(exc), HINTS.get(code)) from exc


def is_propagating(exc: ClientError) -> bool:
    """Refused only because a role changed seconds ago has not reached Lambda yet."""
    return error_code(exc) == "InvalidParameterValueException" and any(
        text in error_message(exc) for text in PROPAGATION_MESSAGES
    )


# Propagation takes seconds, so the intervals stay short (0.25 s growing to 0.5 s): a retry lands
# within half a second of the role becoming usable. Two functions retrying so make at most 4
# calls a second, well within Lambda's 15 control-plane requests a second (Lambda Developer
# Guide, "Lambda quotas").
PROPAGATION = Policy(
    0.25, 1.5, PROPAGATION_RETRY_CAP, limit=PROPAGATION_LIMIT_SECONDS, retry_if=is_propagating
)


def retry_while_role_propagates(
    ctx: Context,
    call: Callable[[], T],
    *,
    or_while: Callable[[ClientError], bool] = lambda exc: False,
    what: str = "the role",
    or_why: Why | None = None,
) -> T:
    """Retry a call that fails only because a new IAM role has not propagated yet (or, as
    `or_while` says, for another passing reason: a function still Pending). `what` waits for
    the role; `or_why` says what `or_while` waits for."""
    propagating = Why(
        what,
        "IAM hands a new or changed role to Lambda in 5-10 s by public reports (AWS gives no "
        "figure)",
        PROPAGATION_TYPICAL_SECONDS,
    )

    def why_refused(exc: ClientError) -> Why:
        if is_propagating(exc):
            return propagating
        return or_why or Why(what, f"AWS answered {error_code(exc)}")

    policy = replace(PROPAGATION, retry_if=lambda exc: is_propagating(exc) or or_while(exc))
    return call_with_retries(ctx, call, policy, why=propagating, why_refused=why_refused)


def retry_on_codes(
    ctx: Context,
    call: Callable[[], T],
    codes: frozenset[str],
    limit_seconds: float,
    why: Why | None = None,
) -> T:
    """Retry a call on error codes botocore does not retry (conflicts, SQS name reuse), from
    half a second doubling to 8 s. `why` says what is waited for; without it, the last
    refusal's code is said."""

    def why_refused(exc: ClientError) -> Why | None:
        if why is not None:
            return None
        return Why("AWS to accept the request", f"it answered {error_code(exc)}; {NO_FIGURE}")

    policy = Policy(0.5, 2.0, 8.0, limit=limit_seconds, codes=codes)
    return call_with_retries(ctx, call, policy, why=why, why_refused=why_refused)


# Deletes that fail only because the resource is still in use, or the API is busy: wait and retry.
IN_USE_CODES = frozenset(
    {
        "DeleteConflict",
        "ResourceConflictException",
        "ResourceInUseException",
        "ConflictException",
        "TooManyRequestsException",
        "Throttled",
    }
)
DELETE_RETRY_SECONDS = 90.0


def in_use(operation: str) -> Why:
    return Why(
        f"AWS to accept {operation}",
        f"the resource is still in use, or AWS is busy; {NO_FIGURE}",
        limit=DELETE_RETRY_SECONDS,
    )


def delete(ctx: Context, step: str, operation: str, call: Callable[[], object]) -> None:
    """Delete, retrying while in use; a resource that is already gone counts as deleted.
    On `down`, it first waits for the steps this one is deleted after (Context.wait_turn)."""
    ctx.wait_turn()
    with aws_errors(step, operation):
        try:
            retry_on_codes(ctx, call, IN_USE_CODES, DELETE_RETRY_SECONDS, in_use(operation))
        except ClientError as exc:
            if not is_not_found(exc):
                raise


POLL_CAP = 0.5


def poll(
    ctx: Context,
    check: Callable[[], bool],
    *,
    what: str,
    step: str,
    timeout: float = 300.0,
    first: float = 0.1,
    why: str = "",
    about: float | None = None,
    cap: float | None = None,
    limit: float | None = None,
) -> None:
    """Poll with short, growing intervals (from `first`), capped at half a second (or `cap`):
    what pocctl waits for takes seconds (AWS's own waiters poll every 5-20 s, and would
    overshoot by as much). Once it has waited a second, users are told `what`, `why` and
    `about` how long AWS usually takes."""

    def gave_up(_: Again) -> None:
        said = f"gave up waiting for {what} after {timeout:.0f}s"
        raise StepError(step, "wait", "Timeout", said)

    keep_trying(
        ctx,
        lambda: None if check() else Again(),
        Policy(first, 1.5, cap or POLL_CAP, limit=timeout),
        gave_up=gave_up,
        why=Why(what, why, about, limit),
    )


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}
