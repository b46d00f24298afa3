"""`status` on a stack in `pocctl local`, where an email subscription stays pending until its link
is followed (apart from test_status.py, whose in-process moto would wipe a running emulator)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pocctl.local.emulator import Emulator

from .cli_runs import run, up_ok


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_pending_subscription_warns_but_is_not_a_failure(
    runner: CliRunner, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Subscribed and never confirmed, as on AWS until the mail's link is followed (moto
    confirms at once; `pocctl local` keeps it pending, as SNS does)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    up_ok(runner, "--stack", "pending", "--email", "ops@example.com")
    monkeypatch.setenv("POCCTL_EMAIL", "ops@example.com")  # then it is the requested one
    result = run(runner, "status", "--stack", "pending")
    assert result.exit_code == 0, result.output
    assert "! email subscription ops@example.com: pending confirmation" in result.output
    assert "warning: " in result.output and "ops@example.com is pending confirmation: click" in (
        result.output
    )
    document = json.loads(run(runner, "status", "--stack", "pending", "--json").stdout)
    assert document["healthy"] is True and document["problems"] == []
    # The alarm topic's subscription (--alarm-email defaults to --email) is pending too.
    warning, alarms_warning = document["warnings"]
    assert "ops@example.com is pending confirmation: click the link in the email" in warning
    assert "nobody receives alarm mails until ops@example.com confirms" in alarms_warning
    assert document["resources"]["subscription"]["subscriptions"] == {
        "ops@example.com": "pending confirmation"
    }
