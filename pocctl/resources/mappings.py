"""Event source mappings: queue -> Lambda-1 and table stream -> Lambda-2, exactly one of each.

moto happily creates duplicate mappings where AWS refuses them, and a re-enabled table stream gets
a new ARN, so `plan` lists every mapping of the function and removes the extra or stale ones.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from pocctl.core.arns import function_name
from pocctl.core.aws import (
    IN_USE_CODES,
    NO_FIGURE,
    aws_errors,
    delete,
    error_code,
    error_message,
    is_not_found,
    none_if_absent,
    poll,
    retry_on_codes,
    retry_while_role_propagates,
)
from pocctl.core.context import Context
from pocctl.core.errors import ForeignResourceError, StepError
from pocctl.core.reporting import Action, Outcome, Why
from pocctl.resources.base import (
    CLOUDFORMATION_STACK_TAG,
    Change,
    Differs,
    Leftover,
    Live,
    Missing,
    Plan,
    Step,
    arn_parts,
    destroy_ours,
    is_ours,
    removal,
)
from pocctl.resources.cloudformation import Resources, cfn_resource, logical_id, tag_entries
from pocctl.resources.queues import queue_arn

CREATE_ONLY = ("StartingPosition",)
# How Lambda refuses a second mapping of a source and function, naming the first (its wording in
# hashicorp/terraform-provider-aws#40257, serverless/serverless#8550, tmobile/jazz#74).
EXISTING_MAPPING = re.compile(r"existing mapping with UUID ([0-9a-fA-F-]+)")
INSERT_ONLY = {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]}


Mapping = dict[str, Any]  # as ListEventSourceMappings returns it


@dataclass(frozen=True)
class ExtraMapping(Change):
    uuid: str

    def __str__(self) -> str:
        return f"remove extra or stale mapping {self.uuid}"


@dataclass(frozen=True)
class NotEnabled(Change):
    state: str | None

    shown_live: ClassVar[bool] = True  # "is Disabled: nothing flows through it"

    def __str__(self) -> str:
        return f"state {self.state} -> Enabled"


@dataclass(frozen=True)
class Untagged(Change):
    """A mapping made before pocctl tagged mappings: without the tag, `down` and its sweep
    would not know it once its function is gone."""

    def __str__(self) -> str:
        return "tag it as the stack's"


@dataclass(frozen=True)
class Mappings:
    """The one mapping to keep (None: create it) and those to remove."""

    keep: Mapping | None
    extra: list[Mapping]
    # The source's ARN when `plan` read it: a stream that is not the same at `apply` (none yet,
    # or enabled anew) was made in this run.
    planned_source: str | None = None


def tagged_ours(ctx: Context, mapping: Mapping) -> bool:
    """The mapping carries this stack's tag (pocctl tags mappings when it creates them); one
    gone meanwhile is not."""
    arn = mapping.get("EventSourceMappingArn")
    if not arn:
        return False
    lam = ctx.client("lambda")
    found = none_if_absent(lambda: lam.list_tags(Resource=arn))
    return found is not None and is_ours(ctx, found.get("Tags") or {})


def function_mappings(ctx: Context, function_name: str) -> list[Mapping]:
    """Every mapping of the function, whatever its source; none when there is no function."""
    lam = ctx.client("lambda")
    found: list[Mapping] = []
    try:
        for page in lam.get_paginator("list_event_source_mappings").paginate(
            FunctionName=function_name
        ):
            found.extend(page["EventSourceMappings"])
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    return found


def mapping_leftover(ctx: Context, mapping: Mapping) -> Leftover:
    uuid, function = mapping["UUID"], function_name(mapping.get("FunctionArn", ""))
    return Leftover(
        MappingStep.kind,
        f"{uuid} ({function})",
        removal(ctx, f"aws lambda delete-event-source-mapping --uuid {uuid}"),
        mapping.get("State") == "Deleting",
    )


# Which states let orders through (or soon will).
WORKING = ("Enabled", "Creating", "Enabling", "Updating")
# A mapping in one of these refuses an update or a delete with ResourceInUseException until it
# is Enabled or Disabled (Lambda API reference, ResourceInUseException: "you tried to update an
# event source mapping in the CREATING state, or you tried to delete an event source mapping
# currently UPDATING"; terraform-provider-aws retries a refused delete for 5 minutes).
CHANGING = ("Creating", "Updating", "Enabling", "Disabling")


def recreates(change: Change) -> bool:
    """A setting AWS won't update in place: the mapping is made anew."""
    return isinstance(change, Differs) and change.setting in CREATE_ONLY


CREATED = "ApproximateCreationDateTime"
# How far back a mapping that replaces a working one reads (StreamMappingStep.replay_floor).
REREAD_MARGIN = 5 * 60


def at_or_after(digits: str) -> list[str]:
    """Prefixes that match exactly the numbers written with as many digits that are at least
    this one (and whatever fraction follows): "17" matches every 10-digit epoch second from
    1700000000 on."""
    found = [digits]
    for i, digit in enumerate(digits):
        found += [digits[:i] + str(n) for n in range(int(digit) + 1, 10)]
    return found


def inserts_since(floor: int) -> dict[str, Any]:
    """INSERT records the stream made at `floor` (epoch seconds, AWS's clock) or later.
    Lambda's DynamoDB filtering guide shows ApproximateCreationDateTime as a string
    ("1678831218.0"), its DynamoDB event as a number: one filter for each (filters are ORed,
    and `numeric` matches numbers only, `prefix` strings only)."""
    as_number = [{"numeric": [">=", floor]}]
    as_string = [{"prefix": prefix} for prefix in at_or_after(str(floor))]
    return {
        "Filters": [
            {"Pattern": json.dumps({"eventName": ["INSERT"], "dynamodb": {CREATED: rule}})}
            for rule in (as_number, as_string)
        ]
    }


def without_floor(pattern: dict[str, Any]) -> dict[str, Any]:
    rest = {k: v for k, v in pattern.items() if k != "dynamodb"}
    dynamodb = {k: v for k, v in (pattern.get("dynamodb") or {}).items() if k != CREATED}
    return {**rest, "dynamodb": dynamodb} if dynamodb else rest


def patterns(criteria: dict[str, Any]) -> list[Any]:
    """The filters' patterns, a re-created stream mapping's floor left out (it is set once, when
    the mapping is made: see StreamMappingStep.replay_floor)."""
    found: list[Any] = []
    for pattern in (without_floor(json.loads(f["Pattern"])) for f in criteria.get("Filters", [])):
        if pattern not in found:
            found.append(pattern)
    return found


def same_setting(name: str, current: Any, desired: Any) -> bool:
    if name == "FilterCriteria" and current and desired:
        return patterns(current) == patterns(desired)
    return bool(current == desired)


@dataclass(eq=False, kw_only=True)
class MappingStep(Step[Mappings]):
    kind: ClassVar[str] = "event source mapping"
    arns: ClassVar[tuple[str, str] | None] = ("lambda", "event-source-mapping:")
    key: str
    function_name: str
    depends_on: tuple[str, ...]

    def source_arn(self, ctx: Context) -> str | None:
        raise NotImplementedError

    def is_our_source(self, ctx: Context, arn: str) -> bool:
        raise NotImplementedError

    def settings(self, ctx: Context) -> dict[str, Any]:
        raise NotImplementedError

    def _mappings(self, ctx: Context, *, deleting: bool = False) -> list[dict[str, Any]]:
        """This function's mappings from our source; those being deleted only if asked."""
        return [
            m
            for m in function_mappings(ctx, self.function_name)
            if self.is_our_source(ctx, m["EventSourceArn"])
            and (m.get("State") == "Deleting") == deleting
        ]

    def live(self, ctx: Context) -> Live:
        states = [m.get("State", "?") for m in function_mappings(ctx, self.function_name)]
        live = Live(detail=f": {', '.join(states)}" if states else "", facts={"states": states})
        stopped = [s for s in states if s not in WORKING]
        if stopped:
            live.problems.append(f"{self.title} is {', '.join(stopped)}: nothing flows through it")
            live.hints.append(f"`pocctl up` enables the {self.title} again.")
        return live

    @classmethod
    def leftovers(cls, ctx: Context, steps: Sequence[Any]) -> list[Leftover]:
        """The functions' mappings: tagged, but the tagging API may not list them."""
        found = ctx.together(*(partial(function_mappings, ctx, s.function_name) for s in steps))
        return [
            mapping_leftover(ctx, m)
            for of_function in found
            for m in of_function
            if tagged_ours(ctx, m)  # not: gone between the two calls, or not the stack's
        ]

    @classmethod
    def leftover_at(cls, ctx: Context, arn: str) -> Leftover | None:
        uuid = arn_parts(arn)[1].removeprefix("event-source-mapping:")
        lam = ctx.client("lambda")
        mapping = none_if_absent(lambda: lam.get_event_source_mapping(UUID=uuid))
        return None if mapping is None else mapping_leftover(ctx, mapping)

    def cloudformation_tags(self, ctx: Context) -> dict[str, str] | None:
        """The tags of this source's mapping: of one CloudFormation tagged, if there are more."""
        lam = ctx.client("lambda")
        with aws_errors(self.key, "ListTags"):
            arns = [
                m["EventSourceMappingArn"]
                for m in self._mappings(ctx)
                if m.get("EventSourceMappingArn")
            ]
            found = [none_if_absent(partial(lam.list_tags, Resource=arn)) for arn in arns]
        tags: list[dict[str, str]] = [f.get("Tags") or {} for f in found if f is not None]
        return next((t for t in tags if CLOUDFORMATION_STACK_TAG in t), next(iter(tags), None))

    def planned_source(self, ctx: Context) -> str | None:
        """The source's ARN as `plan` finds it (read beside the mappings)."""
        return self.source_arn(ctx)

    def replay_floor(self, ctx: Context, found: Mappings, source: str | None) -> int | None:
        """For a mapping about to be made: the moment from which its records are delivered
        (None: from the start of the source)."""
        return None

    def plan(self, ctx: Context) -> Plan[Mappings]:
        with aws_errors(self.key, "ListEventSourceMappings"):
            found: list[Any] = ctx.together(
                lambda: self._mappings(ctx), lambda: self.planned_source(ctx)
            )
        ours, source = found
        matching = [m for m in ours if m["EventSourceArn"] == source]
        keep = matching[0] if matching else None
        extra = [m for m in ours if m is not keep]
        if keep is None:
            changes = tuple(ExtraMapping(m["UUID"]) for m in extra)
            return Plan(Action.CREATE, (Missing(), *changes), Mappings(None, extra, source))
        return self._plan_keeping(ctx, keep, extra, source)

    def _plan_keeping(
        self, ctx: Context, keep: Mapping, extra: list[Mapping], source: str | None
    ) -> Plan[Mappings]:
        """What to change about `keep`, the mapping of our source to stay, and the others."""
        ours = [keep, *extra]
        changes: list[Change] = [ExtraMapping(m["UUID"]) for m in extra]
        settings = self.settings(ctx)
        for name, wanted in settings.items():
            if not same_setting(name, keep.get(name), wanted):
                changes.append(Differs(name, keep.get(name), wanted))
        if keep.get("State") not in WORKING:
            changes.append(NotEnabled(keep.get("State")))
        if any(recreates(c) for c in changes):
            return Plan(Action.CREATE, tuple(changes), Mappings(None, ours, source))
        with aws_errors(self.key, "ListTags"):
            if not tagged_ours(ctx, keep):
                changes.append(Untagged())
        return Plan.from_changes(changes, Mappings(keep, extra, source))

    def apply(self, ctx: Context, plan: Plan[Mappings]) -> None:
        found = plan.current or Mappings(None, [])
        keep, extra = found.keep, found.extra
        source = self.source_arn(ctx)
        # Taken before the old mapping goes, so that nothing after it is skipped.
        floor = None if keep is not None else self.replay_floor(ctx, found, source)
        for mapping in extra:
            self._delete(ctx, mapping)
        settings = self.settings(ctx)
        if floor is not None:
            settings["FilterCriteria"] = inserts_since(floor)
        if keep is None:
            with aws_errors(self.key, "ListEventSourceMappings"):
                # AWS refuses a second mapping of the same source and function, even one that
                # is still being deleted (ResourceConflictException): wait until it is gone.
                def old_ones() -> list[dict[str, Any]]:
                    deleting = self._mappings(ctx, deleting=True)
                    return [m for m in deleting if m["EventSourceArn"] == source]

                if old_ones():
                    ctx.reporter.step_started(self.key, self.title, "waiting out the old")
                    poll(
                        ctx,
                        lambda: not old_ones(),
                        what="the previous mapping's deletion",
                        step=self.key,
                        # Lambda API reference, EventSourceMappingConfiguration.State: no duration.
                        why=f"the old mapping is still Deleting; {NO_FIGURE}",
                    )
            try:
                created = self._create(ctx, source, settings)
            except StepError as exc:
                existing = EXISTING_MAPPING.search(exc.message)
                if exc.code != "ResourceConflictException" or existing is None:
                    raise
                self._take_on(ctx, existing.group(1), source)
                return
            self.wait_enabled(ctx, created["UUID"])
            return
        self._update(ctx, plan, keep, settings)

    def _take_on(self, ctx: Context, uuid: str, source: str | None) -> None:
        """AWS refuses a second mapping of the source and names the one it has: made moments
        ago by another run (or by an `up` stopped after it asked), which `plan` did not find.
        That one is planned for and brought in line, if it is the stack's."""
        lam = ctx.client("lambda")
        with aws_errors(self.key, "GetEventSourceMapping"):
            mapping = lam.get_event_source_mapping(UUID=uuid)
            if not tagged_ours(ctx, mapping):
                raise ForeignResourceError(self.kind, uuid, ctx.config.stack)
        ctx.reporter.note(f"{self.title}: taking on mapping {uuid}, made moments ago")
        plan = self._plan_keeping(ctx, mapping, [], source)
        if plan.current is None or plan.current.keep is None:
            self.apply(ctx, plan)  # one to make again: it goes first
            return
        self._update(ctx, plan, mapping, self.settings(ctx))
        if not (plan.has(Differs) or plan.has(NotEnabled)):
            self.wait_enabled(ctx, uuid)

    def template(self, ctx: Context) -> Resources:
        """The mapping as CreateEventSourceMapping makes it: AWS::Lambda::EventSourceMapping
        names its properties as the API does."""
        properties = {
            "FunctionName": self.function_name,
            "EventSourceArn": self.source_arn(ctx),
            "Enabled": True,
            **self.settings(ctx),
            "Tags": tag_entries(ctx.config.tags),
        }
        return {logical_id(self.key): cfn_resource("AWS::Lambda::EventSourceMapping", properties)}

    def _create(self, ctx: Context, source: str | None, settings: dict[str, Any]) -> Any:
        lam = ctx.client("lambda")
        with aws_errors(self.key, "CreateEventSourceMapping"):
            # Made as soon as the function exists: if AWS refuses a mapping of a function that
            # is still Pending (public reports say so, the docs don't say), it is asked again
            # until the function is Active; if it accepts, nothing waits.
            return retry_while_role_propagates(
                ctx,
                lambda: lam.create_event_source_mapping(
                    FunctionName=self.function_name,
                    EventSourceArn=source,
                    Enabled=True,
                    Tags=ctx.config.tags,
                    **settings,
                ),
                or_while=self.while_pending(ctx),
                what=f"{self.function_name}'s role",
                or_why=Why(
                    f"{self.function_name} to leave Pending",
                    # Lambda Developer Guide, "Lambda function states": "In most cases your
                    # function is ready ... after a few seconds".
                    "Lambda refuses a mapping of a function it is still creating: in most "
                    "cases a few seconds, says AWS",
                ),
            )

    def _update(
        self, ctx: Context, plan: Plan[Mappings], keep: Mapping, settings: dict[str, Any]
    ) -> None:
        lam = ctx.client("lambda")
        if plan.has(Untagged):
            with aws_errors(self.key, "TagResource"):
                lam.tag_resource(Resource=keep["EventSourceMappingArn"], Tags=ctx.config.tags)
        if not (plan.has(Differs) or plan.has(NotEnabled)):
            return
        self.wait_settled(ctx, keep, "update")
        updatable = {k: v for k, v in settings.items() if k not in CREATE_ONLY}
        if not any(isinstance(c, Differs) and c.setting == "FilterCriteria" for c in plan.changes):
            # Only a floor differs (or nothing): the mapping's own filter stays, floor and all,
            # or a mapping made again would replay what it skips while it works through its
            # backlog.
            updatable.pop("FilterCriteria", None)
        with aws_errors(self.key, "UpdateEventSourceMapping"):
            retry_on_codes(
                ctx,
                lambda: lam.update_event_source_mapping(
                    UUID=keep["UUID"], FunctionName=self.function_name, Enabled=True, **updatable
                ),
                IN_USE_CODES,
                limit_seconds=60,
                why=self.in_use(keep, "update"),
            )
        self.wait_enabled(ctx, keep["UUID"])

    def while_pending(self, ctx: Context) -> Callable[[ClientError], bool]:
        """Which refusals of CreateEventSourceMapping to retry: a conflict while the function is
        still Pending (Lambda Developer Guide, "Lambda function states": "Any invocations or
        other API actions that operate on the function will fail"). AWS does not document how
        it words that refusal, so the function's state decides: GetFunction has its own quota
        (100 a second, Lambda quotas), not the control plane's 15. A function found Active was
        perhaps Pending when it refused: asked once more. Another conflict (a mapping of that
        source already there) then fails."""
        lam = ctx.client("lambda")
        conflicts_while_active = 0

        def pending(exc: ClientError) -> bool:
            nonlocal conflicts_while_active
            if error_code(exc) != "ResourceConflictException":
                return False
            if EXISTING_MAPPING.search(error_message(exc)):
                return False  # a mapping of this source is there already: taken on
            found = none_if_absent(lambda: lam.get_function(FunctionName=self.function_name))
            if found is not None and found["Configuration"].get("State") == "Pending":
                return True
            conflicts_while_active += 1
            return conflicts_while_active == 1

        return pending

    def wait_enabled(self, ctx: Context, uuid: str) -> None:
        """A mapping polls only once Enabled: until then the stack is not up (orders would wait,
        and a stream mapping at LATEST would skip them). GetEventSourceMapping counts against
        Lambda's 15 control-plane requests a second (Lambda quotas), and no call outside them
        says a mapping's state: both mappings polled so make at most 8 a second, leaving room
        for the rest of the command (whose Lambda calls are paced: pocctl.core.pacing)."""
        lam = ctx.client("lambda")
        ctx.reporter.step_started(self.key, self.title, "waiting until Enabled:")
        with aws_errors(self.key, "GetEventSourceMapping"):
            poll(
                ctx,
                lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled",
                what=f"the mapping to {self.function_name} ({uuid}) to become Enabled",
                step=self.key,
                # Lambda API reference, EventSourceMappingConfiguration.State: no duration.
                why="Lambda starts a new or changed mapping (Creating/Enabling) before it polls; "
                f"{NO_FIGURE}",
                first=0.25,
            )

    def in_use(self, mapping: Mapping, doing: str) -> Why:
        return Why(
            f"the mapping to {self.function_name} ({mapping['UUID']}) to finish its change",
            f"Lambda refuses to {doing} a mapping while it is Creating, Updating, Enabling or "
            f"Disabling (ResourceInUseException); {NO_FIGURE}",
        )

    def wait_settled(self, ctx: Context, mapping: Mapping, doing: str) -> None:
        """Wait until a mapping `plan` found changing is Enabled or Disabled (or gone): Lambda
        refuses to `doing` it meanwhile. GetEventSourceMapping counts against the control
        plane's 15 requests a second, so only a mapping found changing is watched; one that
        starts a change after `plan` looked is retried on its refusal instead."""
        if mapping.get("State") not in CHANGING:
            return
        lam = ctx.client("lambda")

        def settled() -> bool:
            found = none_if_absent(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"]))
            return found is None or found.get("State") not in CHANGING

        why = self.in_use(mapping, doing)
        with aws_errors(self.key, "GetEventSourceMapping"):
            poll(ctx, settled, what=why.subject, step=self.key, why=why.reason, first=0.25)

    def _delete(self, ctx: Context, mapping: Mapping) -> None:
        self.wait_settled(ctx, mapping, "delete")
        uuid = mapping["UUID"]
        lam = ctx.client("lambda")
        delete(
            ctx,
            self.key,
            "DeleteEventSourceMapping",
            lambda: lam.delete_event_source_mapping(UUID=uuid),
        )

    def destroy(self, ctx: Context) -> Outcome:
        lam = ctx.client("lambda")

        def read() -> list[Any] | None:
            found: list[Any] = ctx.together(
                lambda: none_if_absent(lambda: lam.get_function(FunctionName=self.function_name)),
                lambda: self._mappings(ctx),
            )
            function, mappings = found
            if function is not None:
                return found
            # gone already: only mappings tagged as the stack's are its own
            with aws_errors(self.key, "ListTags"):
                tagged = [m for m in mappings if tagged_ours(ctx, m)]
            return [None, tagged] if tagged else None

        def remove(found: list[Any]) -> Outcome:
            mappings: list[Mapping] = found[1]
            # Started, not finished: AWS lets the function go while its mapping is Deleting, and
            # the sweep reports a Deleting mapping as being deleted.
            for mapping in mappings:
                self._delete(ctx, mapping)
            return Outcome.DELETED if mappings else Outcome.ABSENT

        return destroy_ours(
            ctx,
            self,
            "GetFunction",
            read,
            lambda found: found[0] is None or is_ours(ctx, found[0].get("Tags") or {}),
            remove,
        )


@dataclass(eq=False, kw_only=True)
class QueueMappingStep(MappingStep):
    queue_name: str

    @property
    def name(self) -> str:
        return f"{self.queue_name} -> {self.function_name}"

    def source_arn(self, ctx: Context) -> str:
        return queue_arn(ctx, self.queue_name)

    def is_our_source(self, ctx: Context, arn: str) -> bool:
        return arn == self.source_arn(ctx)

    def settings(self, ctx: Context) -> dict[str, Any]:
        tuning = ctx.config.tuning
        return {
            "BatchSize": tuning.sqs_batch_size,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": tuning.sqs_max_concurrency},
        }


@dataclass(eq=False, kw_only=True)
class StreamMappingStep(MappingStep):
    table_name: str
    failure_queue_name: str

    @property
    def name(self) -> str:
        return f"{self.table_name} stream -> {self.function_name}"

    def source_arn(self, ctx: Context) -> str | None:
        return ctx.outputs.stream_arn

    def planned_source(self, ctx: Context) -> str | None:
        """The table's stream, read here rather than after the table's plan: the mappings and
        their tags are read meanwhile. A table being deleted has no stream to keep."""
        ddb = ctx.client("dynamodb")
        with aws_errors(self.key, "DescribeTable"):
            found = none_if_absent(lambda: ddb.describe_table(TableName=self.table_name))
        table = (found or {}).get("Table") or {}
        if table.get("TableStatus") == "DELETING":
            return None
        stream: str | None = table.get("LatestStreamArn")
        return stream

    def is_our_source(self, ctx: Context, arn: str) -> bool:
        return arn.startswith(ctx.arn("dynamodb", f"table/{self.table_name}/stream/"))

    def replay_floor(self, ctx: Context, found: Mappings, source: str | None) -> int | None:
        """Where a stream mapping made now starts reading. TRIM_HORIZON: LATEST would skip the
        orders stored while the mapping is Creating (Lambda Developer Guide, "Polling and stream
        starting positions"); AT_TIMESTAMP is for Kinesis, DocumentDB and Kafka only (Lambda API
        reference, StartingPosition). The notifier skips orders it notified already (their row
        carries notifiedAt), so reading from the start replays nothing a user sees:
        - a stream made or enabled anew, or one no working mapping read when `plan` looked (the
          mapping deleted or disabled by hand): from its start, so that the orders stored
          meanwhile are notified;
        - replacing a working mapping of the same stream (made anew for a setting AWS won't
          update): from REREAD_MARGIN before now, by AWS's clock (the Date of DynamoDB's
          answer: this machine's clock may be off), a filter on the records' creation time. The
          old mapping may lag a little behind; what it did deliver is skipped by the notifier,
          and the margin spares the notifier a day's reads. A mapping lagging further than the
          margin loses the rest (Lambda's IteratorAge metric says by how much)."""
        planned = found.planned_source
        if planned is None or planned != source:
            return None
        replaced = [
            m for m in found.extra if m["EventSourceArn"] == source and m.get("State") in WORKING
        ]
        if not replaced:
            ctx.reporter.note(
                f"{self.title}: no working mapping read the stream: the new one reads it from "
                "its start (the last 24 hours); orders notified before are skipped, those "
                "stored meanwhile are notified."
            )
            return None
        ddb = ctx.client("dynamodb")
        with aws_errors(self.key, "DescribeTable"):
            answer = ddb.describe_table(TableName=self.table_name)
        date = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
        # (AWS always sends a Date) else this machine's clock, a minute early to be safe
        now = int(parsedate_to_datetime(date).timestamp()) if date else int(time.time()) - 60
        ctx.reporter.note(
            f"{self.title}: replaces the mapping that read the stream: the new one reads the "
            f"records of the last {REREAD_MARGIN // 60} minutes again, in case the old one had "
            "not delivered them yet; orders notified before are skipped."
        )
        return now - REREAD_MARGIN

    def settings(self, ctx: Context) -> dict[str, Any]:
        tuning = ctx.config.tuning
        return {
            "BatchSize": tuning.stream_batch_size,
            # TRIM_HORIZON: orders stored while the mapping is still Creating are delivered once
            # it is Enabled; LATEST would skip them (Lambda Developer Guide, "starting positions").
            # Orders read again are not notified again (replay_floor).
            "StartingPosition": "TRIM_HORIZON",
            "MaximumRetryAttempts": tuning.stream_max_retries,
            "BisectBatchOnFunctionError": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "FilterCriteria": INSERT_ONLY,
            "DestinationConfig": {
                "OnFailure": {"Destination": queue_arn(ctx, self.failure_queue_name)}
            },
        }
