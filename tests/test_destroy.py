"""`down` treats every kind alike: gone is done, a look-alike without the stack's tag is left alone
with a note, the rest is deleted (pocctl.resources.base.destroy_ours)."""

from __future__ import annotations

from pocctl.core.context import Context
from pocctl.core.reporting import Outcome
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps
from pocctl.resources.api import find_api
from pocctl.resources.iam import policy_arn

from .conftest import fresh
from .inventory import everything

TAG = "pocctl:stack"


def untag_everything(ctx: Context) -> None:
    """The stack's tag taken off each of its resources: as if someone made them by hand."""
    s, n = ctx.session, ctx.config.names
    iam = s.client("iam")
    iam.untag_policy(PolicyArn=policy_arn(ctx, n.roles_boundary), TagKeys=[TAG])
    for role in (n.writer_role, n.notifier_role, n.api_role):
        iam.untag_role(RoleName=role, TagKeys=[TAG])
    ddb = s.client("dynamodb")
    table_arn = ddb.describe_table(TableName=n.table)["Table"]["TableArn"]
    ddb.untag_resource(ResourceArn=table_arn, TagKeys=[TAG])
    sqs = s.client("sqs")
    for queue in (n.queue, n.dead_letter_queue, n.stream_failure_queue):
        sqs.untag_queue(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"], TagKeys=[TAG])
    sns = s.client("sns")
    for topic in sns.list_topics()["Topics"]:  # the order topic and the alarm topic
        sns.untag_resource(ResourceArn=topic["TopicArn"], TagKeys=[TAG])
    cloudwatch = s.client("cloudwatch")
    for alarm in cloudwatch.describe_alarms(AlarmNames=list(n.alarms))["MetricAlarms"]:
        cloudwatch.untag_resource(ResourceARN=alarm["AlarmArn"], TagKeys=[TAG])
    logs, lam = s.client("logs"), s.client("lambda")
    for function in (n.writer_function, n.notifier_function):
        logs.untag_log_group(logGroupName=f"/aws/lambda/{function}", tags=[TAG])
        arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
        lam.untag_resource(Resource=arn, TagKeys=[TAG])
    # (moto's UntagResource doesn't find REST APIs: the API is made again by hand instead)
    api = find_api(ctx, n.api)
    assert api is not None
    apigateway = s.client("apigateway")
    apigateway.delete_rest_api(restApiId=api["id"])
    apigateway.create_rest_api(name=n.api, description="by hand")


def test_down_leaves_every_kind_alone_once_it_lacks_the_stacks_tag(deployed: Context) -> None:
    untag_everything(deployed)
    before = everything(deployed.session)
    ctx = fresh(deployed)
    report = Engine(ctx, build_steps(ctx.config)).down()
    assert report.ok, [(r.title, r.error) for r in report.results if r.error]
    outcomes = {r.step: r.outcome for r in report.results}
    subscriptions = ("subscription", "alarm-subscription")
    everything_but_the_subscription = {k: o for k, o in outcomes.items() if k not in subscriptions}
    assert set(everything_but_the_subscription.values()) == {Outcome.SKIPPED}
    titles = {r.title for r in report.results if r.step not in subscriptions}
    notes = set(ctx.reporter.notes)  # type: ignore[attr-defined]
    assert {
        f"left {title} alone: it exists but lacks the tag {TAG}=POC, so this stack did not "
        "create it"
        for title in titles
    } <= notes
    assert everything(deployed.session) == before
