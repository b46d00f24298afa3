"""How long AWS takes, and how often it lets you: each figure with where it comes from.

`pocctl local` acts these out by default at their real durations. `scale` shrinks them all (tests
use 0.02: a 7 s propagation becomes 0.14 s, the same rules in less time); `enabled=False` turns
the asynchrony and the control-plane limits off. Where AWS publishes no figure, the one used is a
typical observation, and the source says so.
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    """One AWS wait: today's fixed duration, and the range AWS documents or users report.

    `pocctl local --aws-timing random` draws each wait from `low`..`high` (log-uniform: AWS's
    waits are usually near the short end, sometimes far out). A rule without a range keeps its
    fixed duration under random timing too.
    """

    seconds: float
    source: str
    low: float | None = None
    high: float | None = None
    range_source: str = ""

    @property
    def varies(self) -> bool:
        return self.low is not None and self.high is not None and self.high > self.low


RULES: dict[str, Rule] = {
    "iam_propagation": Rule(
        7.0,
        "IAM is eventually consistent (IAM User Guide, 'Changes that I make are not always "
        "immediately visible'); a new role reaches Lambda in 5-10 s "
        "(ansible-collections/community.aws#710, aws/aws-cli#7700)",
        low=2.0,
        high=120.0,
        range_source=(
            "no bound is published (IAM User Guide, troubleshooting, 'Changes that I make are not "
            "always immediately visible'); hashicorp/terraform-provider-aws waits up to 2 minutes "
            "for IAM changes to propagate (internal/service/iam/wait.go, propagationTimeout)"
        ),
    ),
    "iam_read": Rule(
        1.0,
        "IAM's own reads are eventually consistent too: 'Any change that you make in IAM (or "
        "other AWS services) ... takes time to become visible from all possible endpoints' "
        "(IAM User Guide, troubleshooting, 'Changes that I make are not always immediately "
        "visible'); hashicorp/terraform-provider-aws reads a role it has just created with "
        "tfresource.RetryWhenNewResourceNotFound(propagationTimeout, FindRoleByName) "
        "(internal/service/iam/role.go, resourceRoleRead) and an inline policy it has just put "
        "with tfresource.RetryWhenNotFound (internal/service/iam/role_policy.go): GetRole and "
        "GetRolePolicy may answer NoSuchEntity, ListRoles leave the role out (no figure "
        "published)",
        low=0.1,
        high=10.0,
        range_source=(
            "no figure published; terraform's propagationTimeout (2 minutes) is a ceiling, not an "
            "observation. The top is a judgement: iam_propagation's usual 5-10 s"
        ),
    ),
    "function_pending": Rule(
        1.5,
        "Lambda Developer Guide, 'Lambda function states': Pending after create; invocations "
        "and updates fail meanwhile (no figure published; typical for a function without VPC)",
        low=0.3,
        high=30.0,
        range_source=(
            "no figure published; deployers poll for Active rather than assume a time "
            "(mdn/yari#6202, spinnaker-plugins/aws-lambda-deployment-plugin-spinnaker#82). The "
            "upper end is a judgement for a function without VPC"
        ),
    ),
    "function_updating": Rule(
        1.5,
        "Lambda Developer Guide, 'Lambda function states': LastUpdateStatus InProgress after "
        "an update; a second update fails with ResourceConflictException (no figure published)",
        low=0.3,
        high=30.0,
        range_source=(
            "no figure published; tools poll LastUpdateStatus until Successful instead of "
            "assuming a time (fujiwara/lambroll#192, 'Too short timeout to waiting for "
            "InProgress'). The upper end is a judgement"
        ),
    ),
    "mapping_creating": Rule(
        3.0,
        "Lambda API reference, EventSourceMappingConfiguration.State: Creating, then Enabled; "
        "hashicorp/terraform-provider-aws#14748 (no figure published)",
        low=1.0,
        high=60.0,
        range_source=(
            "no figure published; hashicorp/terraform-provider-aws#14748 and #14765 wait for "
            "Creating to end (their acceptance tests, a minute and a half each, time a whole "
            "stack, not the Creating state). Both ends are a judgement"
        ),
    ),
    "mapping_deleting": Rule(
        3.0,
        "Lambda API reference, DeleteEventSourceMapping: 'the mapping's state is Deleting' until "
        "removed (no figure published)",
        low=1.0,
        high=60.0,
        range_source=(
            "no figure published; hashicorp/terraform-provider-aws#14765 waits for the deletion "
            "too. The upper end is a judgement"
        ),
    ),
    "table_creating": Rule(
        4.0,
        "DynamoDB API reference, CreateTable: TableStatus CREATING, then ACTIVE; data-plane "
        "calls meanwhile get ResourceNotFoundException (ExtendDB/extenddb#204)",
        low=1.0,
        high=20.0,
        range_source=(
            "'within a couple seconds' (hashicorp/terraform-provider-aws#47276); 'it takes about "
            "5-10 seconds to create table' (aws/aws-sdk-java-v2#5996); a table in eu-west-1 not "
            "ACTIVE after 15 s (schibsted/strongbox#74); slower still with indexes ('over 100 "
            "seconds', scylladb/scylladb#5052) or 'several minutes' "
            "(hashicorp/terraform-provider-aws#46530), beyond this range"
        ),
    ),
    "table_updating": Rule(
        2.0,
        "DynamoDB API reference, UpdateTable: TableStatus UPDATING; another change meanwhile "
        "gets ResourceInUseException",
        low=0.5,
        high=20.0,
        range_source=(
            "no figure published for an on-demand table's UPDATING; taken as table_creating's range"
        ),
    ),
    "table_deleting": Rule(
        4.0,
        "DynamoDB API reference, DeleteTable: TableStatus DELETING until gone; CreateTable "
        "meanwhile gets ResourceInUseException 'Table is being deleted' "
        "(hashicorp/terraform-provider-aws#3355)",
        low=1.0,
        high=20.0,
        range_source=(
            "no figure published; strongbox waited 15 s for create and delete and had to raise it "
            "(schibsted/strongbox#74, #75)"
        ),
    ),
    "queue_name_reuse": Rule(
        60.0,
        "SQS API reference, DeleteQueue: 'you must wait at least 60 seconds before creating a "
        "queue with the same name' (QueueDeletedRecently)",
        low=60.0,
        high=70.0,
        range_source=(
            "at least 60 s, as documented (SQS API reference, DeleteQueue: 'you must wait at "
            "least 60 seconds before creating a queue with the same name'); a little longer at "
            "the top (a judgement), never shorter"
        ),
    ),
    "queue_deleting": Rule(
        60.0,
        "SQS API reference, DeleteQueue: 'The deletion process takes up to 60 seconds. Requests "
        "you send involving that queue during the 60 seconds might succeed' (after them, 'the "
        "queue and the message you sent no longer exist')",
        low=0.5,
        high=60.0,
        range_source="'takes up to 60 seconds' (same page): never longer; how short is not said",
    ),
    "queue_new": Rule(
        1.0,
        "SQS API reference, CreateQueue: 'After you create a queue, you must wait at least one "
        "second after the queue is created to be able to use the queue'; right after a queue is "
        "subscribed to a topic 'messages are not able to be delivered to the queue' for a moment "
        "(AWS SDK for .NET reference, SubscribeQueue). Which error a too-new queue answers is "
        "not published: here NonExistentQueue, and SNS's deliveries to it are lost",
        low=1.0,
        high=3.0,
        range_source=(
            "'at least one second' (SQS API reference, CreateQueue): never less; the top is a "
            "judgement"
        ),
    ),
    "queue_attributes": Rule(
        10.0,
        "SQS API reference, SetQueueAttributes: 'When you change a queue's attributes, the "
        "change can take up to 60 seconds for most of the attributes to propagate throughout "
        "the Amazon SQS system' (MessageRetentionPeriod: up to 15 minutes, not acted out). "
        "Acted out for VisibilityTimeout and RedrivePolicy as receives and the dead-letter "
        "move use them; GetQueueAttributes meanwhile is not documented (here: the new value)",
        low=1.0,
        high=60.0,
        range_source=(
            "up to 60 seconds, as documented (same page); no typical figure is published: the "
            "default and the bottom are judgements"
        ),
    ),
    "message_move_start": Rule(
        1.0,
        "SQS API reference, StartMessageMoveTask: 'Starts an asynchronous task'; its progress is "
        "read with ListMessageMoveTasks (no figure published for when the first message moves)",
        low=0.5,
        high=10.0,
        range_source=(
            "no figure published (SQS API reference, StartMessageMoveTask, asynchronous); a "
            "judgement"
        ),
    ),
    "stream_poll": Rule(
        0.25,
        "Lambda Developer Guide, 'Using Lambda with DynamoDB': 'Lambda polls shards in your "
        "DynamoDB stream for records at a base rate of 4 times per second' (an idle stream)",
        low=0.25,
        high=0.25,
        range_source=("fixed: the documented base rate of 4 polls a second"),
    ),
    "unconfirmed_subscription": Rule(
        48 * 3600.0,
        "SNS deletes a subscription still pending confirmation after 48 hours (AWS What's New, "
        "2023-05-10, 'automatic deletion of unconfirmed subscriptions'); confirmation tokens "
        "are valid for two days (SNS API reference, Subscribe)",
        low=172800.0,
        high=172800.0,
        range_source=("fixed: the documented 48 hours"),
    ),
    "api_change": Rule(
        0.2,
        "API Gateway applies one change at a time per REST API; overlapping changes get 409 "
        "ConflictException (hashicorp/terraform-provider-aws#16439, #776)",
        low=0.05,
        high=2.0,
        range_source=(
            "no figure published; the 409 is reported on changes a few hundred milliseconds apart "
            "(hashicorp/terraform-provider-aws#16439). A judgement"
        ),
    ),
    "table_described": Rule(
        0.5,
        "DynamoDB API reference, DescribeTable: 'If you issue a DescribeTable request "
        "immediately after a CreateTable request, DynamoDB might return a "
        "ResourceNotFoundException. This is because DescribeTable uses an eventually consistent "
        "query' (no figure published)",
        low=0.1,
        high=5.0,
        range_source=(
            "same page: 'Wait for a few seconds, and then try the DescribeTable request again'"
        ),
    ),
    "table_tags": Rule(
        1.0,
        "DynamoDB API reference, TagResource and UntagResource: 'If you issue a "
        "ListTagsOfResource request immediately after a TagResource request, DynamoDB might "
        "return your previous tag set, if there was one, or an empty tag set'",
        low=0.2,
        high=10.0,
        range_source=(
            "same pages: 'ListTagsOfResource API will only reflect the changes after a few seconds'"
        ),
    ),
    "queue_listed": Rule(
        1.0,
        "ListQueues does not list a queue just created (boto/boto3#1581: create_queue, then "
        "a check through list_queues fails); SQS's reads are eventually consistent "
        "(hashicorp/terraform-provider-aws#29761 retries finding a queue, label "
        "eventual-consistency). No figure published",
        low=0.2,
        high=30.0,
        range_source=(
            "no figure published; deleted queues stay listed 'a minute or two' "
            "(aws/aws-sdk-net#2127): the top of the range is taken from there"
        ),
    ),
    "tagging_after_delete": Rule(
        5.0,
        "Resource Groups Tagging API reference, GetResources: 'Returns all the tagged or "
        "previously tagged resources'; a deleted resource stays listed for a while "
        "(boto/boto3#3341, aws/aws-cli#8197, aws/aws-sdk#676). The fixed 5 s is short of "
        "every report (minutes to hours): AWS says stale answers are rare (aws/aws-sdk#302), "
        "so the fixed schedule shows the lag without holding every run up; random weather "
        "draws up to hours",
        low=1.0,
        high=4 * 3600.0,
        range_source=(
            "boto/boto3#3341: ghosts of instances deleted that day, still listed 'hours later'; "
            "aws/aws-sdk#302: rare, for services not onboarded to the internal tag service"
        ),
    ),
    "lambda_logs": Rule(
        2.0,
        "Lambda Developer Guide, 'Sending Lambda function logs to CloudWatch Logs': 'It may take "
        "5 to 10 minutes for logs to show up after a function invocation'; reads right after an "
        "invocation miss its lines, a lag of the service (aws/aws-sdk-net#1387; "
        "aws/aws-sdk-java#2091: none for 60 s through Logs Insights). Lambda's own tail "
        "(LogType=Tail) is not delayed",
        low=0.5,
        high=600.0,
        range_source=(
            "up to the documented 10 minutes (same page); usually seconds (aws/aws-sdk-net#1387). "
            "The bottom is a judgement"
        ),
    ),
    "mapping_updating": Rule(
        3.0,
        "Lambda API reference, EventSourceMappingConfiguration.State: Updating (Enabling, "
        "Disabling) after UpdateEventSourceMapping, then Enabled or Disabled; meanwhile "
        "ResourceInUseException ('you tried to update an event source mapping in the CREATING "
        "state, or you tried to delete an event source mapping currently UPDATING'); "
        "terraform-provider-aws waits up to 10 minutes for it and retries a delete refused so "
        "for 5 (internal/service/lambda/event_source_mapping.go) (no figure published)",
        low=1.0,
        high=60.0,
        range_source=(
            "no figure published; taken as mapping_creating's range (terraform-provider-aws's "
            "10-minute wait is a ceiling, not an observation)"
        ),
    ),
    "metrics_interval": Rule(
        60.0,
        "the services' own metrics reach CloudWatch once a minute: 'CloudWatch metrics for your "
        "Amazon SQS queues are automatically collected and pushed to CloudWatch at one-minute "
        "intervals' (Amazon SQS Developer Guide, 'Monitoring Amazon SQS queues using "
        "CloudWatch'); Lambda 'sends metric data to CloudWatch in 1-minute intervals' (Lambda "
        "Developer Guide, 'Using CloudWatch metrics with Lambda'); 'Amazon API Gateway sends "
        "metric data to CloudWatch every minute' (API Gateway Developer Guide, 'Amazon API "
        "Gateway dimensions and metrics')",
        low=60.0,
        high=60.0,
        range_source="fixed: the documented one-minute interval",
    ),
    "alarm_evaluation": Rule(
        60.0,
        "a metric alarm of a period of a minute or more is evaluated every minute (Amazon "
        "CloudWatch User Guide, 'Using Amazon CloudWatch alarms', 'Evaluating an alarm')",
        low=60.0,
        high=60.0,
        range_source="fixed: the documented evaluation each minute",
    ),
    "queue_metrics_inactive": Rule(
        6 * 3600.0,
        "'CloudWatch considers a queue to be active for up to six hours if it contains any "
        "messages, or if any action accesses it'; an inactive queue's metrics are not published "
        "(Amazon SQS Developer Guide, 'Monitoring Amazon SQS queues using CloudWatch')",
        low=6 * 3600.0,
        high=6 * 3600.0,
        range_source="fixed: the documented six hours",
    ),
    "queue_metrics_woken": Rule(
        15 * 60.0,
        "'a delay of up to 15 minutes occurs in CloudWatch metrics when a queue is activated from "
        "an inactive state' (Amazon SQS Developer Guide, 'Monitoring Amazon SQS queues using "
        "CloudWatch'; users met it: alexwlchan, 'Inactive SQS queues delay CloudWatch metrics'): "
        "the emulator holds back a woken queue's datapoints the whole 15 minutes",
        low=0.0,
        high=15 * 60.0,
        range_source="the documented 'up to 15 minutes'",
    ),
}

# API Gateway's fixed control-plane quotas, per account and region: (requests, per seconds).
# Source: API Gateway Developer Guide, "Amazon API Gateway quotas" (they can't be increased).
API_RATE_LIMITS: dict[str, tuple[int, float]] = {
    "CreateDeployment": (1, 5.0),
    "CreateRestApi": (1, 3.0),
    "ImportRestApi": (1, 3.0),
    "PutRestApi": (1, 1.0),
    "DeleteRestApi": (1, 30.0),
    "CreateResource": (5, 1.0),
    "DeleteResource": (5, 1.0),
    "GetResources": (5, 2.0),
}
# "Total operations: 10 requests per second, with a burst of 40" (same page).
API_TOTAL_RATE = (10.0, 40)

# Lambda's control plane, per account and Region: (requests, per seconds), each "Cannot be
# increased" (Lambda Developer Guide, "Lambda quotas", API requests): GetFunction 100 per
# second, GetPolicy 15, and "Remainder of the control plane API requests (excludes invocation,
# GetFunction, and GetPolicy requests): 15 requests per second across all APIs". Invocations
# have quotas of their own (concurrency), not acted out here.
LAMBDA_RATE_LIMITS: dict[str, tuple[int, float]] = {
    "GetFunction": (100, 1.0),
    "GetPolicy": (15, 1.0),
}
LAMBDA_CONTROL_PLANE_RATE = (15, 1.0)
LAMBDA_INVOCATIONS = frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"})


@dataclass(frozen=True)
class Timing:
    """AWS's clock as the emulator acts it out.

    `seed=None` is the fixed schedule (each rule's `seconds`). With a seed, each wait is drawn
    from its rule's range: the n-th draw of a rule for one `key` (the resource it is for: a
    table's name, a role's ARN and the service that sees it) depends only on the seed, the rule,
    the key and n. Resources created side by side (`up` runs its steps in threads) then get the
    same waits whichever thread comes first, and a run replays for its seed. A call site must
    draw once per event and keep the result (a deadline), never draw again for the same event;
    its key must not hold what differs between runs (a generated id, a timestamp).
    """

    enabled: bool = True
    scale: float = 1.0
    seed: int | None = None
    _draws: dict[tuple[str, str], int] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def seconds(self, rule: str, key: str = "") -> float:
        if not self.enabled:
            return 0.0
        found = RULES[rule]
        if self.seed is None or not found.varies:
            return found.seconds * self.scale
        with self._lock:
            n = self._draws.get((rule, key), 0)
            self._draws[(rule, key)] = n + 1
        return draw(found, self.seed, f"{rule}|{key}" if key else rule, n) * self.scale

    @property
    def random(self) -> bool:
        return self.enabled and self.seed is not None

    def describe(self) -> str:
        if not self.enabled:
            return "AWS timing off: every change takes effect at once"
        kind = f"random (seed {self.seed})" if self.seed is not None else "on"
        if self.scale == 1.0:
            return f"AWS timing {kind}, at real durations"
        return f"AWS timing {kind}, durations x{self.scale:g}"


def draw(rule: Rule, seed: int, name: str, n: int) -> float:
    """The n-th wait of `rule` for `seed`: log-uniform over its range."""
    assert rule.low is not None and rule.high is not None
    digest = hashlib.sha256(f"{seed}:{name}:{n}".encode()).digest()
    unit = random.Random(int.from_bytes(digest[:8], "big")).random()
    low = max(rule.low, 1e-3)
    return float(low * (rule.high / low) ** unit) if rule.high > low else rule.high


OFF = Timing(enabled=False)
