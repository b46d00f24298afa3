"""Issue 6's acceptance, as a new user following the README would do it, offline:
init, pick a region and stage in pocctl.toml, up, watch an order in status and logs, script
outputs --json, tear down with the sweep's confirmation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.local.aws.sns import follow_confirmation_links
from pocctl.local.emulator import Emulator


def test_a_new_user_follows_the_readme_offline(
    emulator: Emulator, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # so that the file decides the region

    def pocctl(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    assert pocctl("init").exit_code == 0
    config = tmp_path / "pocctl.toml"
    text = config.read_text().replace('region = "us-east-1"', 'region = "eu-west-1"')
    config.write_text(text.replace('# stage = "prod"', 'stage = "beta"'))

    up = pocctl("up", "--email", "you@example.com")
    assert up.exit_code == 0, up.output
    assert "Deploying stack POC in eu-west-1" in up.output
    assert "/beta/_user_request_/order" in up.output

    mail = json.loads(pocctl("local", "mail", "--json").stdout)["messages"]
    # Two confirmation mails: order notifications, and alarm mails (--alarm-email defaults to
    # --email).
    alarms, confirmation = sorted(
        (m for m in mail if m.get("confirm_url")), key=lambda m: m["topic"]
    )
    assert confirmation["to"] == "you@example.com" and confirmation["topic"].endswith(":POC-Topic")
    assert alarms["to"] == "you@example.com" and alarms["topic"].endswith(":POC-Alarms")
    follow_confirmation_links(mail)  # the user clicks the link in the mail

    order = pocctl("test-order", "--json")
    assert order.exit_code == 0, order.output
    order_id = json.loads(order.stdout)["order_id"]

    status = pocctl("status")
    assert status.exit_code == 0, status.output
    assert "Stack POC in eu-west-1: healthy" in status.output
    assert "✓ email you@example.com: confirmed" in status.output

    logs = pocctl("logs")
    assert logs.exit_code == 0
    stored = [line for line in logs.output.splitlines() if "order_stored" in line]
    notified = [line for line in logs.output.splitlines() if "order_notified" in line]
    assert any(order_id in line and "POC-Lambda-1 |" in line for line in stored)
    assert any(order_id in line and "POC-Lambda-2 |" in line for line in notified)

    outputs = json.loads(pocctl("outputs", "--json").stdout)
    assert outputs["region"] == "eu-west-1" and "/beta/" in outputs["order_url"]

    down = pocctl("down", "--yes")
    assert down.exit_code == 0, down.output
    assert "Swept eu-west-1: nothing tagged pocctl:stack=POC is left" in down.output
    assert pocctl("status").exit_code == 1
