"""SNS: an email subscription is PendingConfirmation until its owner follows the link in the mail.

AWS: "the subscription ... is not confirmed until the endpoint owner ... confirms" and a pending
subscription receives nothing; ListSubscriptions shows its ARN as `PendingConfirmation` (SNS
Developer Guide, "Email notifications"; SNS API reference, Subscribe). moto confirms at once.
"Confirmation tokens are valid for two days" (SNS API reference, Subscribe), and SNS deletes a
subscription still pending 48 hours after it was made ("Amazon SNS now supports automatic
deletion of unconfirmed subscriptions", AWS What's New, 2023-05-10): `unconfirmed_subscription`
in timing.py.

Subscribe of an address whose subscription is still pending: AWS's documentation does not say
whether SNS sends a new confirmation mail or only answers with the existing subscription (the
Subscribe API reference says only that it "prepares to subscribe an endpoint by sending the
endpoint a confirmation message"; the SNS Developer Guide's "Email notifications" and public
issues and questions say nothing of a second Subscribe while pending). `resubscribe_resends`
acts out either: False (the default: the less kind answer, no new mail), the existing
subscription and no mail (what LocalStack's SNS does, localstack/localstack
services/sns/provider.py `subscribe`); True, a new mail with a new link (the earlier link keeps
working until its two days are up). pocctl must be right under both.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from pocctl.core.arns import Arn
from pocctl.local.aws.base import Rules, World
from pocctl.local.calls import Call
from pocctl.local.replies import Reply, error, escape_xml

CONFIRM_PATH = "/_pocctl/confirm"
EMAIL_PROTOCOLS = ("email", "email-json")
PENDING = "PendingConfirmation"

Mail = Callable[[dict[str, Any]], None]


def _subscription(account: str, arn: str) -> Any:
    from moto.sns.models import sns_backends

    return sns_backends[account][Arn.parse(arn).region].subscriptions.get(arn)


def _unsubscribe(account: str, arn: str) -> None:
    from moto.sns.models import sns_backends

    sns_backends[account][Arn.parse(arn).region].unsubscribe(arn)


def is_pending(subscription: Any) -> bool:
    return str(subscription.attributes.get(PENDING)).lower() == "true"


class SnsRules(Rules):
    services = ("sns",)

    def __init__(self, world: World, mail: Mail, base_url: Callable[[], str]) -> None:
        super().__init__(world)
        self.mail = mail
        self.base_url = base_url
        self.tokens: dict[str, str] = {}  # token -> subscription ARN
        self.pending_since: dict[str, float] = {}  # subscription ARN -> when it was made
        self.resubscribe_resends = False  # see the module's docstring: AWS leaves it open

    def confirm(self, token: str) -> str | None:
        """Follow a confirmation link: the subscription's ARN, or None for an unknown token."""
        arn = self.tokens.get(token)
        subscription = _subscription(self.world.account, arn) if arn else None
        if subscription is None:
            return None
        subscription.attributes[PENDING] = "false"
        subscription.attributes["ConfirmationWasAuthenticated"] = "true"
        return arn

    def expire(self) -> None:
        """Delete the subscriptions pending for longer than SNS keeps them."""
        if not self.world.timing.enabled:
            return  # every change at once: nothing expires
        cutoff = self.world.clock() - self.world.timing.seconds("unconfirmed_subscription")
        with self.world.lock:
            for arn, since in list(self.pending_since.items()):
                subscription = _subscription(self.world.account, arn)
                if subscription is None or not is_pending(subscription):
                    del self.pending_since[arn]
                elif since <= cutoff:
                    del self.pending_since[arn]
                    _unsubscribe(self.world.account, arn)
                    self.tokens = {t: a for t, a in self.tokens.items() if a != arn}

    def before(self, call: Call) -> Reply | None:
        self.expire()
        if call.operation == "Unsubscribe":
            # A pending subscription can't be removed, only left to expire: "You can't delete a
            # subscription that is pending confirmation. Amazon SNS automatically deletes
            # unconfirmed subscriptions after 48 hours" (SNS Developer Guide, "Deleting an
            # Amazon SNS subscription and topic"); "The SNS service does not allow you to delete
            # pending confirmation subscriptions" (aws/aws-sdk-net#350, a maintainer); "SNS
            # rejects Unsubscribe for pending subscriptions (InvalidParameterException ...)"
            # (go-to-k/cdkd#1305). moto removes it.
            target = str(call.params.get("SubscriptionArn", ""))
            known = target.count(":") >= 5
            subscription = _subscription(self.world.account, target) if known else None
            if subscription is not None and is_pending(subscription):
                return error(
                    call,
                    400,
                    "InvalidParameter",
                    "Invalid parameter: Cannot unsubscribe a subscription that is pending "
                    "confirmation",
                )
        if call.operation == "ConfirmSubscription":
            arn = self.confirm(str(call.params.get("Token", "")))
            if arn is None:
                return error(call, 400, "InvalidParameter", "Invalid token")
            body = (
                "<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>"
                f"{escape_xml(arn)}</SubscriptionArn></ConfirmSubscriptionResult>"
                "</ConfirmSubscriptionResponse>"
            ).encode()
            return Reply(200, body, [("Content-Type", "text/xml")]).with_body(body)
        return None

    def after(self, call: Call, reply: Reply) -> Reply:
        if not reply.ok:
            return reply
        if call.operation == "Subscribe" and call.params.get("Protocol") in EMAIL_PROTOCOLS:
            return self._subscribed(call, reply)
        if call.operation in ("ListSubscriptions", "ListSubscriptionsByTopic"):
            text = reply.body.decode()
            for arn in list(self.tokens.values()):
                subscription = _subscription(self.world.account, arn)
                if subscription is not None and is_pending(subscription):
                    text = text.replace(
                        f"<SubscriptionArn>{arn}</SubscriptionArn>",
                        f"<SubscriptionArn>{PENDING}</SubscriptionArn>",
                    )
            return reply.with_body(text.encode())
        return reply

    def _subscribed(self, call: Call, reply: Reply) -> Reply:
        text = reply.body.decode()
        start = text.find("<SubscriptionArn>") + len("<SubscriptionArn>")
        arn = text[start : text.find("</SubscriptionArn>")]
        subscription = _subscription(self.world.account, arn)
        if subscription is None:
            return reply
        known = arn in self.tokens.values()
        already = known and not is_pending(subscription)
        if not known:
            self.pending_since[arn] = self.world.clock()
        if not already and (not known or self.resubscribe_resends):
            subscription.attributes[PENDING] = "true"
            subscription.attributes["ConfirmationWasAuthenticated"] = "false"
            token = secrets.token_hex(32)
            self.tokens[token] = arn
            link = f"{self.base_url()}{CONFIRM_PATH}?Token={quote(token)}"
            topic = str(call.params.get("TopicArn"))
            self.mail(
                {
                    "to": call.params.get("Endpoint"),
                    "topic": topic,
                    "subject": "AWS Notification - Subscription Confirmation",
                    "message": (
                        f"You have chosen to subscribe to the topic:\n{topic}\n\n"
                        "To confirm this subscription, click or visit the link below "
                        f"(If this was in error no action is necessary):\n{link}"
                    ),
                    "confirm_url": link,
                }
            )
        wants_arn = str(call.params.get("ReturnSubscriptionArn", "")).lower() == "true"
        if not already and not wants_arn:
            text = text.replace(
                f"<SubscriptionArn>{arn}</SubscriptionArn>",
                "<SubscriptionArn>pending confirmation</SubscriptionArn>",
            )
        return reply.with_body(text.encode())


def follow_confirmation_links(mails: list[dict[str, Any]], address: str | None = None) -> list[str]:
    """Click the link in each confirmation mail (to `address`, or to anyone), as its owner
    would; returns the addresses confirmed."""
    import urllib.request

    confirmed = []
    for mail in mails:
        if mail.get("confirm_url") and address in (None, mail["to"]):
            with urllib.request.urlopen(mail["confirm_url"], timeout=10):
                pass
            confirmed.append(str(mail["to"]))
    return confirmed
