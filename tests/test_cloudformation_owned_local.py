"""A stack CloudFormation manages, in `pocctl local`: an order goes through it, and `up --watch`
uploads nothing to it (apart from test_cloudformation_owned.py, whose in-process moto would wipe
a running emulator's state)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.code.bundle import bundled_dir
from pocctl.local.emulator import Emulator
from pocctl.ops.watch import watching
from pocctl.pipeline.stack import build_steps
from pocctl.resources.functions import FunctionStep

from .as_cloudformation import tag_as_cloudformation
from .emulated import up_local
from .test_cloudformation_owned import (
    CFN_STACK,
    NAMES,
    cloudformation_tags,
    tag_as_cloudformation_would,
)


@pytest.mark.slow  # heavy (tests/cases.py)
def test_an_order_goes_through_a_stack_cloudformation_manages(emulator: Emulator) -> None:
    """Offline, where the functions run: test-order, invoke and logs on the tagged stack."""
    ctx = up_local(emulator, "POC")
    tag_as_cloudformation_would(ctx.client)
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}

    def pocctl(*args: str) -> Any:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    tested = pocctl("test-order", "--json")
    assert tested.exit_code == 0, tested.output
    invoked = pocctl("invoke", "1", "--json")
    assert invoked.exit_code == 0, invoked.output
    logs = pocctl("logs", "--function", "1")
    assert logs.exit_code == 0, logs.output
    # A dead-lettered order, redriven on the stack CloudFormation manages, is stored.
    sqs = ctx.client("sqs")
    dlq = sqs.get_queue_url(QueueName=NAMES.dead_letter_queue)["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"item": "redriven under CFN"}))
    redriven = pocctl("redrive", "--json")
    assert redriven.exit_code == 0, redriven.output
    document = json.loads(redriven.stdout)
    assert document["moved"] == 1 and document["stored"] == 1 and document["all_stored"]
    items = ctx.client("dynamodb").scan(TableName=NAMES.table, ConsistentRead=True)["Items"]
    assert "redriven under CFN" in [item["item"]["S"] for item in items]
    refused = pocctl("up", "--json")
    assert refused.exit_code == 1, refused.output
    assert json.loads(refused.stdout)["managed_by_cloudformation"]


def test_up_watch_uploads_nothing_once_cloudformation_manages_the_functions(
    emulator: Emulator, tmp_path: Path
) -> None:
    handlers = tmp_path / "handlers"
    shutil.copytree(bundled_dir("handlers"), handlers)
    ctx = up_local(emulator, "watchcfn", handlers=str(handlers))
    functions = [s for s in build_steps(ctx.config) if isinstance(s, FunctionStep)]
    notifier = ctx.config.names.notifier_function
    lam = ctx.client("lambda")
    before = lam.get_function(FunctionName=notifier)["Configuration"]["CodeSha256"]
    with watching(ctx, functions) as updates:
        arn = lam.get_function(FunctionName=notifier)["Configuration"]["FunctionArn"]
        tag_as_cloudformation(arn, cloudformation_tags("NotifierFunction"))
        source = handlers / "order_notifier.py"
        source.write_text(source.read_text().replace("New order", "Order in"))
        update = updates.get(timeout=60)
    assert update.updated == []
    assert update.error is not None and f"CloudFormation stack {CFN_STACK}" in update.error
    assert lam.get_function(FunctionName=notifier)["Configuration"]["CodeSha256"] == before
