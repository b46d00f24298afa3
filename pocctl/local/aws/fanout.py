"""SNS to SQS: a topic delivers to a subscribed queue only what the queue's own policy lets SNS
send. "Amazon SNS must be allowed to send messages to the queue": the queue policy allows
`sqs:SendMessage` for the principal `sns.amazonaws.com`, usually only from the topic
(`"Condition": {"ArnEquals": {"aws:SourceArn": <topic ARN>}}`); without it the notification is
not delivered (SNS Developer Guide, "Fanout to Amazon SQS queues", step "Give permission to the
Amazon SNS topic to send messages to the Amazon SQS queue"; "Example cases for Amazon SNS access
control", "Publish messages to an Amazon SQS queue"). Publish still succeeds: the loss shows
only in SNS's delivery-status logs ("Amazon SNS message delivery status"), here in the
emulator's log. moto delivers whatever the policy says.

Also, a queue too new to use loses what SNS sends it (timing.py, queue_new).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pocctl.core.arns import Arn
from pocctl.local.policy import Request, principal_names_service, statement_applies

SNS_PRINCIPAL = "sns.amazonaws.com"


def queue_statements(account: str, queue_arn: str) -> list[dict[str, Any]]:
    """The statements of the queue's policy as moto holds it (none: no policy, or no queue)."""
    from moto.sqs.models import sqs_backends

    arn = Arn.of(queue_arn)
    if arn is None:
        return []
    queue = sqs_backends[account][arn.region].queues.get(arn.name)
    policy = getattr(queue, "policy", None)
    if not policy:
        return []
    document = json.loads(policy) if isinstance(policy, str) else policy
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def sns_may_send(
    statements: list[dict[str, Any]], queue_arn: str, topic_arn: str, account: str
) -> bool:
    """Whether the policy allows SNS, delivering for `topic_arn`, to send to the queue: an
    Allow for the SNS principal whose action, resource and conditions hold, and no such Deny."""
    request = Request(
        "sqs:SendMessage",
        (queue_arn,),
        {"aws:SourceArn": topic_arn, "aws:SourceAccount": account},
    )
    allowed = False
    for statement in statements:
        if not principal_names_service(statement.get("Principal"), SNS_PRINCIPAL):
            continue
        if statement_applies(statement, request, queue_arn):
            if statement.get("Effect") == "Deny":
                return False
            allowed = statement.get("Effect") == "Allow" or allowed
    return allowed


class SqsDelivery:
    """Answers "may SNS deliver this topic's notification to this queue now?" (logging why not)."""

    def __init__(
        self, account: str, usable: Callable[[str], bool], log: Callable[[str], None]
    ) -> None:
        self.account = account
        self.usable = usable
        self.log = log

    def __call__(self, queue_arn: str, topic_arn: str) -> bool:
        if not self.usable(queue_arn):
            return False
        statements = queue_statements(self.account, queue_arn)
        if sns_may_send(statements, queue_arn, topic_arn, self.account):
            return True
        self.log(
            f"SNS could not deliver a notification from {topic_arn} to {queue_arn}: the queue's "
            f"policy does not allow {SNS_PRINCIPAL} sqs:SendMessage (from this topic)"
        )
        return False
