"""Issue 20, item 15: while the email subscription is pending, `up --resend-confirmation` asks SNS
for a new confirmation mail, and says SNS may or may not send one; `up` and `status` say how.
Whether SNS mails a new link when the same address subscribes again while pending is not
documented: every test here runs under both answers (the emulator's `resubscribe_resends`)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.local.aws.sns import follow_confirmation_links
from pocctl.local.aws.timing import RULES
from pocctl.local.emulator import Emulator

from .emulated import TIMING


class Ahead:
    """Real time, plus what a test has skipped (two days of waiting for a click)."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped

    def skip(self, rule: str) -> None:
        self.skipped += TIMING.seconds(rule) + 1.0


@pytest.fixture(scope="module")
def clock() -> Ahead:
    return Ahead()


@pytest.fixture(scope="module")
def emulator(clock: Ahead) -> Iterator[Emulator]:
    with Emulator(port=0, timing=TIMING, clock=clock) as running:
        yield running


@pytest.fixture(params=[True, False], ids=["sns-resends", "sns-does-not-resend"])
def resends(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[bool]:
    default = emulator.aws.sns.resubscribe_resends
    emulator.aws.sns.resubscribe_resends = request.param
    yield request.param
    emulator.aws.sns.resubscribe_resends = default


def confirmations(emulator: Emulator, address: str) -> list[dict[str, Any]]:
    """The order topic's confirmation mails to the address (the alarm topic's, which
    --alarm-email also defaults to, are its own subscription's)."""
    return [
        m
        for m in emulator.outbox.messages
        if m["to"] == address and m.get("confirm_url") and m["topic"].endswith("-Topic")
    ]


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_pending_subscription_gets_a_new_mail_on_request_and_a_new_one_after_48_hours(
    emulator: Emulator, clock: Ahead, resends: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    stack = "resend" if resends else "noresend"
    address = f"{stack}@example.com"

    def pocctl(*args: str) -> Result:
        return CliRunner().invoke(cli, [*args, "--stack", stack], catch_exceptions=False)

    first = pocctl("up", "--email", address)
    assert first.exit_code == 0, first.output
    assert f"{address} is pending confirmation" in first.output
    assert "pocctl up --resend-confirmation" in first.output
    assert len(confirmations(emulator, address)) == 1

    again = pocctl("up", "--email", address, "--json")  # an ordinary `up` mails nothing
    assert set(json.loads(again.stdout)["counts"]) == {"unchanged"}
    assert "pocctl up --resend-confirmation" in again.stderr
    dry = pocctl("up", "--email", address, "--resend-confirmation", "--dry-run")
    assert "ask SNS for a new confirmation mail" in dry.output, dry.output
    assert len(confirmations(emulator, address)) == 1

    resent = pocctl("up", "--email", address, "--resend-confirmation")
    assert resent.exit_code == 0, resent.output
    # Whether SNS mails again is undocumented: the note promises no mail.
    said = " ".join(resent.output.split())
    assert f"Subscribed {address} again, asking SNS for a new confirmation mail" in said
    assert "SNS may or may not send one while the earlier one is pending" in said
    assert "Asked SNS for a new confirmation mail" not in said
    assert "SNS deletes a subscription left unconfirmed for 48 hours" in resent.output
    assert len(confirmations(emulator, address)) == (2 if resends else 1)
    status = pocctl("status", "--json")
    assert json_subscriptions(status) == {address: "pending confirmation"}  # still one
    assert "--resend-confirmation --email" in pocctl("status").output

    clock.skip("unconfirmed_subscription")  # nobody clicked: SNS deleted it
    assert json_subscriptions(pocctl("status", "--json")) == {}
    repaired = pocctl("up", "--email", address)
    assert repaired.exit_code == 0, repaired.output
    assert "2 created" in repaired.output  # the order topic's subscription, and the alarm topic's
    latest = confirmations(emulator, address)[-1]
    assert len(confirmations(emulator, address)) == (3 if resends else 2)
    follow_confirmation_links([latest])

    confirmed = pocctl("up", "--email", address, "--resend-confirmation")
    assert f"{address} has confirmed its subscription: no mail sent." in confirmed.output
    assert len(confirmations(emulator, address)) == (3 if resends else 2)
    assert json_subscriptions(pocctl("status", "--json")) == {address: "confirmed"}
    assert pocctl("down", "--yes").exit_code == 0


def json_subscriptions(result: Result) -> dict[str, str]:
    """The email subscriptions `status --json` found, address -> state."""
    return dict(json.loads(result.stdout)["resources"]["subscription"]["subscriptions"])


def test_the_rule_has_its_source() -> None:
    assert "48 hours" in RULES["unconfirmed_subscription"].source


def test_resend_without_an_address_is_a_usage_error(emulator: Emulator) -> None:
    result = CliRunner().invoke(
        cli, ["up", "--resend-confirmation", "--endpoint-url", emulator.endpoint_url]
    )
    assert result.exit_code == 2
    assert "--resend-confirmation mails the stack's email address, and none is set" in (
        result.output
    )
    assert "Traceback" not in result.output
