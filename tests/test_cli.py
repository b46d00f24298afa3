"""The command line: exit codes, messages, confirmation, JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.cli.options import Runtime
from pocctl.core.session import new_session

from .cli_runs import run, up_ok
from .faults import FailCalls, runtime_with
from .inventory import everything, flatten


@pytest.fixture
def session(aws: None) -> Any:

    return new_session(region_name="us-east-1")


def test_up_twice_then_down(runner: CliRunner, session: Any) -> None:
    first = up_ok(runner, "--email", "ops@example.com")
    assert "+ created      DynamoDB table orders" in first.output
    assert "Stack POC is up" in first.output and "25 created, 0 updated" in first.output
    assert "Order endpoint: https://" in first.output and "/prod/order" in first.output
    assert "The API is public" in first.output and "up to 10 requests/s (burst 20)" in first.output

    assert "No email requested" not in first.output
    second = up_ok(runner, "--email", "ops@example.com")
    assert "0 created, 0 updated, 25 unchanged" in second.output
    # without --email, `up` still says how to be mailed (status shows what the topic has)
    third = up_ok(runner)
    assert "No email requested: add one with --email to be mailed each order." in third.output

    down = run(runner, "down", "--yes")
    assert down.exit_code == 0, down.output
    assert "Stack POC is down" in down.output
    assert "Swept us-east-1: nothing tagged pocctl:stack=POC is left" in down.output
    assert flatten(everything(session)) == []


def test_down_without_a_terminal_or_yes_refuses_and_deletes_nothing(
    runner: CliRunner, session: Any
) -> None:
    up_ok(runner)
    before = everything(session)
    result = runner.invoke(cli, ["down"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: Refusing to delete stack POC without confirmation: there is no terminal to ask "
        "on. Re-run with --yes to confirm.\n"
    )
    assert everything(session) == before


def test_down_asks_and_a_no_keeps_everything(runner: CliRunner, session: Any) -> None:
    up_ok(runner)
    before = everything(session)
    at_a_terminal = Runtime(stdin_is_terminal=lambda: True)
    result = runner.invoke(cli, ["down"], input="n\n", obj=at_a_terminal)
    assert "Delete every resource of stack POC in us-east-1 (account 123456789012)?" in (
        result.output
    )
    assert result.exit_code == 1
    assert everything(session) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["up", "--stack", "bad name!"], "Invalid stack name 'bad name!'"),
        (["up", "--stack", "-dev"], "Invalid stack name '-dev'"),
        (["up", "--email", "not-an-email"], "Invalid email address 'not-an-email'"),
        (["up", "--region", "moon-1"], "Invalid region 'moon-1'"),
        (["down", "--endpoint-url", "localhost:4566"], "Invalid endpoint URL 'localhost:4566'"),
        (["outputs", "--profile", "nope"], "AWS profile 'nope' not found"),
    ],
)
def test_bad_input_is_a_usage_error(runner: CliRunner, args: list[str], message: str) -> None:
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_profile_that_exists_gives_the_credentials_and_the_region(
    runner: CliRunner, session: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Only the profile has credentials and a region here: without it, `up` finds none (see
    below); with it, the stack is made where the profile says."""
    here, ireland = session.client("dynamodb"), session.client("dynamodb", region_name="eu-west-1")
    config, credentials = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text("[profile dev]\nregion = eu-west-1\n")
    credentials.write_text("[dev]\naws_access_key_id = dev-key\naws_secret_access_key = dev\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)
    result = up_ok(runner, "--profile", "dev")
    assert "Deploying stack POC in eu-west-1" in result.output
    assert ireland.describe_table(TableName="orders")["Table"]["TableStatus"] == "ACTIVE"
    assert here.list_tables()["TableNames"] == []  # nothing in us-east-1, the suite's region


def test_no_credentials_says_how_to_get_some(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = runner.invoke(cli, ["up"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: No AWS credentials found.\n")
    assert "aws configure" in result.output and "pocctl local" in result.output


def test_dry_run_lists_the_changes_and_writes_nothing(runner: CliRunner, session: Any) -> None:
    result = run(runner, "up", "--dry-run")
    assert result.exit_code == 0
    assert "+ would create DynamoDB table orders" in result.output
    assert "Dry run: 23 to create, 0 to update" in result.output
    assert "Nothing was written." in result.output
    assert flatten(everything(session)) == []


def test_dry_run_on_a_drifted_stack_shows_what_differs(runner: CliRunner, session: Any) -> None:
    up_ok(runner)
    session.client("lambda").update_function_configuration(FunctionName="POC-Lambda-1", Timeout=3)
    result = run(runner, "up", "--dry-run")
    assert "~ would update Lambda function POC-Lambda-1" in result.output
    assert "Timeout: 3 -> 10" in result.output
    timeout = session.client("lambda").get_function_configuration(FunctionName="POC-Lambda-1")
    assert timeout["Timeout"] == 3


def test_stack_comes_from_the_environment_too(
    runner: CliRunner, session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POCCTL_STACK", "dev")
    up_ok(runner)
    assert "dev-orders" in everything(session)["tables"]


def test_up_flags_set_the_stage_and_its_throttle(runner: CliRunner, session: Any) -> None:
    result = up_ok(runner, "--stage", "beta", "--rate-limit", "3", "--burst-limit", "7")
    assert re.search(r"Order endpoint: https://\S+/beta/order\n", result.output)
    assert "up to 3 requests/s (burst 7)" in result.output
    apigateway = session.client("apigateway")
    (api,) = apigateway.get_rest_apis()["items"]
    stages = apigateway.get_stages(restApiId=api["id"])["item"]
    assert [stage["stageName"] for stage in stages] == ["beta"]
    throttle = stages[0]["methodSettings"]["*/*"]
    assert (throttle["throttlingRateLimit"], throttle["throttlingBurstLimit"]) == (3.0, 7)
    outputs = json.loads(run(runner, "outputs", "--json").stdout)
    assert outputs["order_url"].endswith("/beta/order")


def test_up_serial_runs_one_step_at_a_time(runner: CliRunner, session: Any) -> None:
    """`-v` labels every AWS call with its step: one step at a time, each step's calls come in
    one unbroken run when all are planned, and one when it is applied (side by side, without
    --serial, a step's calls are interleaved with others'). A plan whose reads all took the
    CloudFormation check's answers (shared_reads.py) makes no call: its step has one run."""
    result = up_ok(runner, "--serial", "-v")
    labels = re.findall(r"^  aws \S+ \S+  \[(.+)\]$", result.output, flags=re.MULTILINE)
    runs = [label for i, label in enumerate(labels) if i == 0 or labels[i - 1] != label]
    assert len(set(labels)) == 23  # every step but the email subscriptions, which none asked
    # Nothing there yet: the functions', the alarms', the API's and the queue mapping's plans
    # read only what the check read (the stream's mapping reads the table too).
    alarms = {label for label in labels if label.endswith("-alarm")}
    assert len(alarms) == 6
    planned_by_the_check = {"writer", "notifier", "api", "queue-mapping", *alarms}
    assert {label: runs.count(label) for label in labels} == {
        label: 1 if label in planned_by_the_check else 2 for label in labels
    }


def test_outputs_json_is_complete(runner: CliRunner, session: Any) -> None:
    up_ok(runner)
    result = run(runner, "outputs", "--json")
    values = json.loads(result.stdout)
    assert values["order_url"].startswith("https://") and values["order_url"].endswith(
        "/prod/order"
    )
    assert set(values) == {
        "ok", "command", "stack", "region", "order_url", "api_id", "table", "queue_url",
        "dead_letter_queue", "topic_arn", "functions",
    }  # fmt: skip


def test_outputs_of_a_stack_that_is_not_deployed(runner: CliRunner, session: Any) -> None:
    result = runner.invoke(cli, ["outputs", "--stack", "ghost"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: Stack ghost is not deployed in us-east-1 (no API found).\n"
        "Run `pocctl up` first, or check --stack and --region.\n"
    )


def test_a_look_alike_makes_up_refuse_with_its_name(runner: CliRunner, session: Any) -> None:
    session.client("sns").create_topic(Name="POC-Topic")
    result = runner.invoke(cli, ["up"])
    assert result.exit_code == 1
    assert "Error: Nothing was created: these names are taken by resources this stack did not" in (
        result.output
    )
    assert "  - SNS topic POC-Topic" in result.output
    assert everything(session)["tables"] == []


def test_a_failed_step_says_what_was_made_and_what_to_run(runner: CliRunner, session: Any) -> None:
    refusing = runtime_with(
        lambda s: FailCalls(s, "CreateFunction", "AccessDeniedException", "no lambda for you", 1)
    )
    result = runner.invoke(cli, ["up"], obj=refusing)
    assert result.exit_code == 1
    # The two functions are created in parallel: either may take the one injected failure.
    assert re.search(r"x failed +Lambda function POC-Lambda-[12]", result.output)
    assert re.search(
        r"Error: up stopped at Lambda function POC-Lambda-[12]: (writer|notifier): "
        r"CreateFunction failed with AccessDeniedException: no lambda for you",
        result.output,
    )
    (made,) = [line for line in result.output.splitlines() if line.startswith("Made or changed")]
    assert "IAM role POC-Lambda-" in made
    assert "Run `pocctl up` again to finish, or `pocctl down` to remove what was made." in (
        result.output
    )
    assert "Traceback" not in result.output


def test_version_and_help(runner: CliRunner) -> None:
    assert run(runner, "--version").output.startswith("pocctl, version ")
    help_text = run(runner, "up", "--help").output
    assert "pocctl up --email ops@example.com" in help_text
    assert "--dry-run" in help_text and "--stack" in help_text


def test_every_command_teaches_with_an_example(runner: CliRunner) -> None:
    for name, command in cli.commands.items():
        help_text = run(runner, name, "--help").output
        assert "Examples:" in help_text or "Example:" in help_text, name
        if any(p.name == "as_json" for p in command.params):
            assert "--json" in help_text, name
