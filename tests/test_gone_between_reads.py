"""A resource that disappears between two reads of one plan (its deletion finishes after it was
described and before its tags are read) counts as gone, for every step: `up` re-creates it,
`status` says it is missing, the sweep does not list it. Here the resource really is deleted
between the two calls."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.core.session import new_session

from .faults import runtime_with
from .inventory import everything

REGION = "us-east-1"


def delete_role(iam: Any, name: str) -> None:
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    iam.delete_role(RoleName=name)


def topic_arn(sns: Any, name: str) -> str:
    return next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(name))


# (service, the plan's later read, how the resource goes meanwhile, inventory kind, name)
CASES: dict[str, tuple[str, str, Callable[[boto3.Session], object], str, str]] = {
    "table": (
        "dynamodb",
        "ListTagsOfResource",
        lambda s: s.client("dynamodb").delete_table(TableName="orders"),
        "tables",
        "orders",
    ),
    "topic": (
        "sns",
        "ListTagsForResource",
        lambda s: s.client("sns").delete_topic(TopicArn=topic_arn(s.client("sns"), "POC-Topic")),
        "topics",
        "POC-Topic",
    ),
    "role": (
        "iam",
        "ListRolePolicies",
        lambda s: delete_role(s.client("iam"), "POC-Lambda-2-Role"),
        "roles",
        "POC-Lambda-2-Role",
    ),
}


class GoneMeanwhile:
    """The first time the operation is called about the resource (its name in the request), the
    resource is deleted just before the call reaches AWS: described a moment ago, gone now."""

    def __init__(
        self, service: str, operation: str, name: str, delete: Callable[[], object]
    ) -> None:
        self.service, self.operation, self.name, self.delete = service, operation, name, delete
        self.done = False
        # Calls about it side by side (status reads the plan and the CloudFormation look at
        # once) wait until it is gone: one let through while the delete was still on its way
        # found it there, and the test failed under load.
        self._deleting = threading.Lock()

    def __call__(self, session: boto3.Session) -> None:
        session.events.register(f"before-call.{self.service}.{self.operation}", self._before)

    def _before(self, params: Any, **_: Any) -> None:
        if self.name not in str(params):
            return
        with self._deleting:
            if not self.done:
                self.delete()
                self.done = True


@pytest.fixture
def session(aws: None) -> boto3.Session:
    return new_session(region_name=REGION)


QUICK = runtime_with(sleep=lambda seconds: None)


def run_while_it_goes(
    runner: CliRunner, session: boto3.Session, case: str, *args: str
) -> tuple[GoneMeanwhile, Result]:
    """The stack up; then the command, during which the case's resource goes between reads."""
    assert runner.invoke(cli, ["up"], obj=QUICK).exit_code == 0
    service, operation, delete, _, name = CASES[case]
    meanwhile = GoneMeanwhile(service, operation, name, lambda: delete(session))
    result = runner.invoke(cli, list(args), obj=runtime_with(meanwhile, sleep=lambda s: None))
    assert meanwhile.done
    return meanwhile, result


@pytest.mark.parametrize("case", sorted(CASES))
def test_up_recreates_what_went_between_two_reads_of_its_plan(
    runner: CliRunner, session: boto3.Session, case: str
) -> None:
    """The topic's tags are read first by `up`'s CloudFormation check, whose answer its plan
    takes (tests/faults.py): there the topic goes after the check, and the plan finds it gone."""
    _, result = run_while_it_goes(runner, session, case, "up")
    *_, kind, name = CASES[case]
    assert result.exit_code == 0, result.output
    assert name in everything(session)[kind]
    again = runner.invoke(cli, ["status", "--json"], obj=QUICK)
    assert json.loads(again.stdout)["problems"] == []


@pytest.mark.parametrize("case", ["table", "topic"])
def test_status_says_missing_for_what_went_between_two_reads(
    runner: CliRunner, session: boto3.Session, case: str
) -> None:
    _, result = run_while_it_goes(runner, session, case, "status", "--json")
    name = CASES[case][-1]
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert any(name in p and "is missing" in p for p in document["problems"]), document
    assert "failed with" not in result.output
