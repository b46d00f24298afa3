"""The SNS topic and its email subscription."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from pocctl.core.aws import aws_errors, delete, is_not_found, none_if_absent, tag_dict, tag_list
from pocctl.core.context import Context
from pocctl.core.reporting import Outcome
from pocctl.resources.base import (
    Change,
    Differs,
    Leftover,
    Live,
    Missing,
    Plan,
    Step,
    Unwanted,
    arn_parts,
    destroy_ours,
    is_ours,
    removal,
    require_ours,
)
from pocctl.resources.cloudformation import Resources, cfn_resource, logical_id, tag_entries

PENDING = "PendingConfirmation"
RESEND = "pocctl up --resend-confirmation"
# SNS deletes a subscription left unconfirmed for 48 hours (AWS What's New, 2023-05-10).
EXPIRY = "SNS deletes a subscription left unconfirmed for 48 hours"


@dataclass(frozen=True)
class ConfirmationResent(Change):
    """The subscription is still pending and `up --resend-confirmation` was asked: Subscribe
    again. Whether SNS then sends a new mail is not documented; a new subscription always gets
    one, and SNS deletes a pending one after 48 hours, so the next `up` makes a new one."""

    def __str__(self) -> str:
        return "pending confirmation: ask SNS for a new confirmation mail"


@dataclass(frozen=True)
class Replaced(Change):
    """A confirmed email subscription to another address than the one asked for: unsubscribed,
    so that the topic keeps exactly one (the README's promise)."""

    address: str
    arn: str
    by: str
    by_pending: bool  # the address replacing it is (or will be) pending confirmation
    receives: str = "order notifications"

    def __str__(self) -> str:
        return f"unsubscribe {self.address}: {self.by} replaces it" + (
            f"; {nobody_until(self.by, self.receives)}" if self.by_pending else ""
        )


def nobody_until(address: str, receives: str = "order notifications") -> str:
    return f"nobody receives {receives} until {address} confirms its subscription"


def topic_arn(ctx: Context, topic_name: str) -> str:
    return ctx.arn("sns", topic_name)


def topic_tags(ctx: Context, arn: str) -> dict[str, str] | None:
    """The topic's tags, or None when there is no such topic."""
    sns = ctx.client("sns")
    try:
        sns.get_topic_attributes(TopicArn=arn)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return tag_dict(sns.list_tags_for_resource(ResourceArn=arn)["Tags"])


def email_subscriptions(ctx: Context, topic_name: str) -> dict[str, str]:
    """Each email address subscribed to the topic: "confirmed" or "pending confirmation"."""
    try:
        found = subscriptions(ctx, topic_arn(ctx, topic_name))
    except ClientError as exc:
        if is_not_found(exc):
            return {}
        raise
    return {
        s["Endpoint"]: "pending confirmation" if s["SubscriptionArn"] == PENDING else "confirmed"
        for s in found
        if s["Protocol"] == "email"
    }


def subscriptions(ctx: Context, arn: str) -> list[dict[str, Any]]:
    paginator = ctx.client("sns").get_paginator("list_subscriptions_by_topic")
    found: list[dict[str, Any]] = []
    for page in paginator.paginate(TopicArn=arn):
        found.extend(page["Subscriptions"])
    return found


@dataclass(eq=False, kw_only=True)
class TopicStep(Step[None]):
    kind: ClassVar[str] = "SNS topic"
    arns: ClassVar[tuple[str, str] | None] = ("sns", "")
    topic_name: str
    key: str
    # The topic's access policy, where the default one (the account's principals only) is not
    # enough: the alarm topic lets CloudWatch publish.
    policy: Callable[[Context], dict[str, Any]] | None = None
    # Why the stack no longer asks for it, when it doesn't (alarms turned off): `up` deletes it.
    unwanted: str | None = None

    @property
    def name(self) -> str:
        return self.topic_name

    def cloudformation_tags(self, ctx: Context) -> dict[str, str] | None:
        sns, arn = ctx.client("sns"), topic_arn(ctx, self.topic_name)
        with aws_errors(self.key, "ListTagsForResource"):
            found = none_if_absent(lambda: sns.list_tags_for_resource(ResourceArn=arn))
        return None if found is None else tag_dict(found["Tags"])

    @property
    def wanted(self) -> bool:
        return self.unwanted is None

    def live(self, ctx: Context) -> Live:
        return Live() if self.unwanted is None else Live(detail=": off")

    def plan(self, ctx: Context) -> Plan[None]:
        arn = topic_arn(ctx, self.topic_name)
        with aws_errors(self.key, "GetTopicAttributes"):
            tags = topic_tags(ctx, arn)
            if tags is None:
                return Plan.from_changes([]) if self.unwanted else Plan.create()
            require_ours(ctx, self, tags)
            if self.unwanted:
                return Plan.from_changes([Unwanted(self.unwanted)])
            if self.policy is None:
                return Plan.from_changes([])
            attributes = ctx.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]
        now = json.loads(attributes.get("Policy") or "null")
        wanted = self.policy(ctx)
        return Plan.from_changes([] if now == wanted else [Differs("Policy", now, wanted)])

    def template(self, ctx: Context) -> Resources:
        """The topic, and its access policy where it has one: an AWS::SNS::TopicInlinePolicy,
        the type that "associates one Amazon SNS topic with one policy" and sets the topic's
        whole Policy as `apply` does (CloudFormation Template Reference); none when unwanted."""
        if self.unwanted is not None:
            return {}
        properties = {"TopicName": self.topic_name, "Tags": tag_entries(ctx.config.tags)}
        made = {logical_id(self.key): cfn_resource("AWS::SNS::Topic", properties)}
        if self.policy is not None:
            policy = {
                "TopicArn": topic_arn(ctx, self.topic_name),
                "PolicyDocument": self.policy(ctx),
            }
            made[logical_id(self.key, "policy")] = cfn_resource(
                "AWS::SNS::TopicInlinePolicy", policy, (logical_id(self.key),)
            )
        return made

    def apply(self, ctx: Context, plan: Plan[None]) -> None:
        sns = ctx.client("sns")
        arn = topic_arn(ctx, self.topic_name)
        if plan.has(Unwanted):
            delete(ctx, self.key, "DeleteTopic", lambda: sns.delete_topic(TopicArn=arn))
            return
        if plan.has(Differs) and self.policy is not None:
            with aws_errors(self.key, "SetTopicAttributes"):
                sns.set_topic_attributes(
                    TopicArn=arn,
                    AttributeName="Policy",
                    AttributeValue=json.dumps(self.policy(ctx)),
                )
            return
        policy = (
            {} if self.policy is None else {"Attributes": {"Policy": json.dumps(self.policy(ctx))}}
        )
        with aws_errors(self.key, "CreateTopic"):
            sns.create_topic(Name=self.topic_name, Tags=tag_list(ctx.config.tags), **policy)

    @classmethod
    def leftover_at(cls, ctx: Context, arn: str) -> Leftover | None:
        if topic_tags(ctx, arn) is None:
            return None
        command = f"aws sns delete-topic --topic-arn {arn}"
        return Leftover(cls.kind, arn_parts(arn)[1], removal(ctx, command))

    def destroy(self, ctx: Context) -> Outcome:
        arn = topic_arn(ctx, self.topic_name)

        def remove(_: dict[str, str]) -> Outcome:
            sns = ctx.client("sns")
            delete(ctx, self.key, "DeleteTopic", lambda: sns.delete_topic(TopicArn=arn))
            return Outcome.DELETED

        return destroy_ours(
            ctx,
            self,
            "GetTopicAttributes",
            lambda: topic_tags(ctx, arn),
            lambda tags: is_ours(ctx, tags),
            remove,
        )


@dataclass(eq=False, kw_only=True)
class EmailSubscriptionStep(Step[None]):
    """Exactly one subscription for the requested address, however often `up` runs."""

    kind: ClassVar[str] = "email subscription"
    topic_name: str
    email: str | None
    resend: bool = False  # `up --resend-confirmation`: a new mail while it is pending
    # What `status` says when the topic has no email subscription (None: nothing to say).
    none_warning: str | None = "no email subscription: add one with `pocctl up --email ADDRESS`"
    receives: str = "order notifications"  # what the topic mails, in the step's sentences
    flag: str = "--email"  # the flag that names the address
    key: str
    depends_on: tuple[str, ...]

    @property
    def name(self) -> str:
        # Without --email, what the topic has is drawn under it by `live`: a name that said
        # "none requested" stood above "email ops@example.com: confirmed" (issue 23).
        return self.email or f"of {self.topic_name}"

    def _emails(self, ctx: Context) -> list[dict[str, Any]]:
        """The topic's email subscriptions (none while the topic is still to be made)."""
        with aws_errors(self.key, "ListSubscriptionsByTopic"):
            try:
                found = subscriptions(ctx, topic_arn(ctx, self.topic_name))
            except ClientError as exc:
                if not is_not_found(exc):
                    raise
                return []
        return [s for s in found if s["Protocol"] == "email"]

    def _is_mine(self, sub: dict[str, Any]) -> bool:
        return self.email is not None and sub["Endpoint"].lower() == self.email.lower()

    def plan(self, ctx: Context) -> Plan[None]:
        if self.email is None:
            return Plan.from_changes([])
        emails = self._emails(ctx)
        sub = next((s for s in emails if self._is_mine(s)), None)
        changes: list[Change] = []
        if sub is None:
            changes.append(Missing("not subscribed"))
        elif sub["SubscriptionArn"] != PENDING:
            if self.resend:
                ctx.reporter.note(f"{self.email} has confirmed its subscription: no mail sent.")
        elif self.resend:
            changes.append(ConfirmationResent())
        else:
            ctx.reporter.note(self._pending_note())
        # The address is one the user states (--email, POCCTL_EMAIL or pocctl.toml: no record
        # keeps it), so it replaces every other; without one, `plan` returned above.
        pending = sub is None or sub["SubscriptionArn"] == PENDING
        for old in emails:
            if self._is_mine(old):
                continue
            if old["SubscriptionArn"] == PENDING:
                ctx.reporter.note(self._pending_old_note(old["Endpoint"]))
            else:
                changes.append(
                    Replaced(
                        old["Endpoint"], old["SubscriptionArn"], self.email, pending, self.receives
                    )
                )
        if sub is None and not emails:
            return Plan.create(changes[0])
        return Plan.from_changes(changes)

    def _pending_old_note(self, address: str) -> str:
        return (
            f"{address} stays subscribed for now, pending confirmation: SNS does not let a "
            "pending subscription be removed. It receives nothing unless its owner clicks the "
            f"link in its confirmation mail (then `pocctl up {self.flag} {self.email}` removes "
            f"it); {EXPIRY}."
        )

    @property
    def wanted(self) -> bool:
        return self.email is not None

    def live(self, ctx: Context) -> Live:
        """Every email subscription of the topic, the requested one's state as its detail."""
        emails = email_subscriptions(ctx, self.topic_name)
        live = Live(facts={"subscriptions": emails})
        confirmed = "confirmed" in emails.values()
        for address, state in emails.items():
            mine = self.email is not None and address.lower() == self.email.lower()
            replaced = self.email is not None and not mine
            if mine:
                live.detail = f": {state}"
            else:
                label = f"email {address}: {state}" + (f", not {self.email}" if replaced else "")
                live.lines.append((label, state == "confirmed" and not replaced))
            if replaced and state == "confirmed":
                live.warnings.append(
                    f"{address} also receives {self.receives}: "
                    f"`pocctl up {self.flag} {self.email}` unsubscribes it"
                )
            elif replaced:
                live.warnings.append(self._pending_old_note(address))
            elif state != "confirmed":
                live.warnings.append(
                    ("" if confirmed else f"{nobody_until(address, self.receives)}: ")
                    + f"{address} is {state}: click the link in the email from AWS Notifications "
                    f"(no mail? `{RESEND} {self.flag} {address}` asks for a new one; {EXPIRY})"
                )
        if not emails:
            live.detail = ": none"
            if self.none_warning:
                live.warnings.append(self.none_warning)
        return live

    def _pending_note(self) -> str:
        return (
            f"{self.email} is pending confirmation: open the email from AWS Notifications "
            f"and click 'Confirm subscription' to receive {self.receives}. "
            f"No mail? `{RESEND}` asks SNS for a new one; {EXPIRY} (`pocctl up` then "
            "subscribes the address again)."
        )

    def apply(self, ctx: Context, plan: Plan[None]) -> None:
        if plan.has(Missing) or plan.has(ConfirmationResent):
            self._subscribe(ctx, plan)
        # Once the new address is subscribed: the topic never has no subscription at all.
        for old in plan.of(Replaced):
            delete(
                ctx,
                self.key,
                "Unsubscribe",
                partial(ctx.client("sns").unsubscribe, SubscriptionArn=old.arn),
            )
            ctx.reporter.note(
                f"unsubscribed {old.address}: {self.email} replaces it as the stack's one email "
                f"subscription, so {old.address} gets no more {self.receives}"
                + (f"; {nobody_until(old.by, self.receives)}" if old.by_pending else "")
            )

    def _subscribe(self, ctx: Context, plan: Plan[None]) -> None:
        sns = ctx.client("sns")
        with aws_errors(self.key, "Subscribe"):
            # Again while pending (--resend-confirmation): whether SNS then mails a new link,
            # AWS doesn't document; `pocctl local` acts out either answer.
            arn = sns.subscribe(
                TopicArn=topic_arn(ctx, self.topic_name),
                Protocol="email",
                Endpoint=self.email,
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]
            attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        if attributes.get(PENDING) != "true":
            return
        if plan.has(ConfirmationResent):
            ctx.reporter.note(
                f"Subscribed {self.email} again, asking SNS for a new confirmation mail: SNS "
                "may or may not send one while the earlier one is pending (AWS doesn't say). "
                "If none arrives, use the earlier mail's link (check the spam folder); "
                f"{EXPIRY}, and `pocctl up` then subscribes the address again, with a new mail."
            )
        else:
            ctx.reporter.note(self._pending_note())

    def template(self, ctx: Context) -> Resources:
        """The subscription `_subscribe` makes; none without an address (nothing `wanted`)."""
        if self.email is None:
            return {}
        properties = {
            "TopicArn": topic_arn(ctx, self.topic_name),
            "Protocol": "email",
            "Endpoint": self.email,
        }
        return {logical_id(self.key): cfn_resource("AWS::SNS::Subscription", properties)}

    def destroy(self, ctx: Context) -> Outcome:
        """Unsubscribe every confirmed subscription of our topic; deleting it drops pending ones."""
        arn = topic_arn(ctx, self.topic_name)
        with aws_errors(self.key, "ListSubscriptionsByTopic"):
            tags = topic_tags(ctx, arn)
            if tags is None:
                return Outcome.ABSENT
            if not is_ours(ctx, tags):
                return Outcome.SKIPPED
            try:
                confirmed = [
                    s["SubscriptionArn"]
                    for s in subscriptions(ctx, arn)
                    if s["SubscriptionArn"] != PENDING
                ]
            except ClientError as exc:
                if not is_not_found(exc):
                    raise
                return Outcome.ABSENT  # the topic went meanwhile, and its subscriptions with it
        for sub_arn in confirmed:
            delete(
                ctx,
                self.key,
                "Unsubscribe",
                partial(ctx.client("sns").unsubscribe, SubscriptionArn=sub_arn),
            )
        return Outcome.DELETED if confirmed else Outcome.ABSENT
