"""Issue 21, item 3: `up --email` with a new address replaces the old subscription (exactly one,
as the README promises), says so, and names what SNS won't let it remove yet. Offline."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.local.aws.sns import follow_confirmation_links
from pocctl.local.emulator import Emulator

from .test_local import eventually, post

Pocctl = Callable[..., Result]


@pytest.fixture
def pocctl(
    emulator: Emulator,
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Pocctl:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    stack = "mail-" + request.node.name.split("_")[3]  # a stack of each test's own

    def run(*args: str, **env: str) -> Result:
        return runner.invoke(cli, [*args, "--stack", stack], env=env, catch_exceptions=False)

    return run


def subscribed(pocctl: Pocctl) -> dict[str, str]:
    status = json.loads(pocctl("status", "--json").stdout)
    found: dict[str, str] = status["resources"]["subscription"]["subscriptions"]
    return found


def confirm(emulator: Emulator, address: str) -> None:
    assert follow_confirmation_links(emulator.outbox.messages, address)


def notified(emulator: Emulator, address: str, order_id: str) -> bool:
    return any(
        m["to"] == address and order_id in str(m["message"]) for m in emulator.outbox.messages
    )


def text(result: Result) -> str:
    return " ".join(result.output.split())


def test_a_new_address_replaces_the_old_one(pocctl: Pocctl, emulator: Emulator) -> None:
    assert pocctl("up", "--email", "a@example.com").exit_code == 0
    confirm(emulator, "a@example.com")

    dry = pocctl("up", "--email", "b@example.com", "--dry-run")
    assert dry.exit_code == 0
    nobody = "nobody receives order notifications until b@example.com confirms its subscription"
    assert f"unsubscribe a@example.com: b@example.com replaces it; {nobody}" in text(dry)
    assert subscribed(pocctl) == {"a@example.com": "confirmed"}

    up = pocctl("up", "--email", "b@example.com")
    assert up.exit_code == 0, up.output
    assert (
        "unsubscribed a@example.com: b@example.com replaces it as the stack's one email "
        f"subscription, so a@example.com gets no more order notifications; {nobody}" in text(up)
    )
    assert subscribed(pocctl) == {"b@example.com": "pending confirmation"}
    pending = pocctl("status", POCCTL_EMAIL="b@example.com")
    assert f"warning: {nobody}: b@example.com is pending confirmation" in text(pending)
    confirm(emulator, "b@example.com")

    url = json.loads(pocctl("outputs", "--json").stdout)["order_url"]
    status, answer = post(url, b'{"item": "mop"}')
    assert status == 200
    assert eventually(lambda: notified(emulator, "b@example.com", answer["orderID"]))
    assert not notified(emulator, "a@example.com", answer["orderID"])

    # Without --email (nor POCCTL_EMAIL), up unsubscribes nothing.
    again = pocctl("up")
    assert again.exit_code == 0 and "unsubscribed" not in again.output
    assert subscribed(pocctl) == {"b@example.com": "confirmed"}


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_pending_old_address_is_named_not_removed(pocctl: Pocctl, emulator: Emulator) -> None:
    assert pocctl("up", "--email", "c@example.com").exit_code == 0  # never confirmed
    up = pocctl("up", "--email", "d@example.com")
    assert up.exit_code == 0, up.output
    assert (
        "c@example.com stays subscribed for now, pending confirmation: SNS does not let a "
        "pending subscription be removed. It receives nothing unless its owner clicks the link"
    ) in text(up)
    assert subscribed(pocctl) == {
        "c@example.com": "pending confirmation",
        "d@example.com": "pending confirmation",
    }
    # status doesn't ask anyone to confirm the replaced address
    status = pocctl("status", POCCTL_EMAIL="d@example.com")
    assert "`pocctl up --resend-confirmation --email c@example.com`" not in text(status)
    assert "c@example.com stays subscribed for now" in text(status)

    assert "nobody receives order notifications" in text(status)  # no one has confirmed

    # Its owner confirms after all: it would get orders, so the next up with the address the
    # user states (here in the environment, as from pocctl.toml) removes it.
    confirm(emulator, "c@example.com")
    status = pocctl("status", POCCTL_EMAIL="d@example.com")
    assert (
        "c@example.com also receives order notifications: `pocctl up --email d@example.com` "
        "unsubscribes it" in text(status)
    )
    assert "warning: nobody receives" not in text(status)  # c@example.com does, for now
    final = pocctl("up", POCCTL_EMAIL="d@example.com")
    assert (
        "unsubscribed c@example.com: d@example.com replaces it as the stack's one email "
        "subscription, so c@example.com gets no more order notifications; nobody receives order "
        "notifications until d@example.com confirms its subscription" in text(final)
    )
    assert subscribed(pocctl) == {"d@example.com": "pending confirmation"}


def test_sns_refuses_to_unsubscribe_a_pending_subscription(emulator: Emulator) -> None:
    sns: Any = boto3.client("sns", endpoint_url=emulator.endpoint_url, region_name="us-east-1")
    topic = sns.create_topic(Name="pending-refused")["TopicArn"]
    arn = sns.subscribe(
        TopicArn=topic, Protocol="email", Endpoint="p@example.com", ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    with pytest.raises(ClientError, match="pending confirmation") as refused:
        sns.unsubscribe(SubscriptionArn=arn)
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"
