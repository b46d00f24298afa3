"""A change made by hand is put back by the next `up`."""

from __future__ import annotations

import json

from moto.dynamodb.models import dynamodb_backends

from pocctl.core.context import Context
from pocctl.core.reporting import Outcome
from pocctl.ops.sweep import sweep
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps
from pocctl.resources.mappings import inserts_since

from .conftest import ACCOUNT, REGION, fresh


def repair(ctx: Context) -> dict[str, Outcome]:
    again = fresh(ctx)
    report = Engine(again, build_steps(again.config)).up()
    assert report.ok, [(r.title, r.error) for r in report.results if r.error]
    # ...and a third run finds nothing left to do.
    third = fresh(ctx)
    assert Engine(third, build_steps(third.config)).up().ok
    assert third.calls.mutating == []
    return {r.step: r.outcome for r in report.results if r.outcome is not Outcome.UNCHANGED}


def test_queue_attribute_changed_by_hand_is_put_back(deployed: Context) -> None:
    sqs = deployed.session.client("sqs")
    url = sqs.get_queue_url(QueueName="POC-Queue")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5"})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": ""})
    assert repair(deployed) == {"queue": Outcome.UPDATED}
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "60"
    assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"].endswith("POC-Queue-DLQ")


def test_function_setting_changed_by_hand_is_put_back(deployed: Context) -> None:
    lam = deployed.session.client("lambda")
    lam.update_function_configuration(
        FunctionName="POC-Lambda-1", Timeout=3, Environment={"Variables": {"TABLE_NAME": "x"}}
    )
    assert repair(deployed) == {"writer": Outcome.UPDATED}
    config = lam.get_function_configuration(FunctionName="POC-Lambda-1")
    assert config["Timeout"] == 10
    assert config["Environment"]["Variables"] == {"TABLE_NAME": "orders"}


def test_function_code_changed_by_hand_is_uploaded_again(deployed: Context) -> None:
    lam = deployed.session.client("lambda")
    before = lam.get_function_configuration(FunctionName="POC-Lambda-2")["CodeSha256"]
    lam.update_function_code(FunctionName="POC-Lambda-2", ZipFile=b"PK\x05\x06" + b"\0" * 18)
    assert repair(deployed) == {"notifier": Outcome.UPDATED}
    assert lam.get_function_configuration(FunctionName="POC-Lambda-2")["CodeSha256"] == before


def test_disabled_mapping_is_enabled_again(deployed: Context) -> None:
    lam = deployed.session.client("lambda")
    (mapping,) = lam.list_event_source_mappings(FunctionName="POC-Lambda-2")["EventSourceMappings"]
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    assert repair(deployed) == {"stream-mapping": Outcome.UPDATED}
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled"


def test_duplicate_mapping_is_removed(deployed: Context) -> None:
    """moto accepts a duplicate mapping (AWS would refuse it); up must still end with one."""
    lam = deployed.session.client("lambda")
    queue_arn = "arn:aws:sqs:us-east-1:123456789012:POC-Queue"
    lam.create_event_source_mapping(FunctionName="POC-Lambda-1", EventSourceArn=queue_arn)
    assert repair(deployed) == {"queue-mapping": Outcome.UPDATED}
    mappings = lam.list_event_source_mappings(FunctionName="POC-Lambda-1")["EventSourceMappings"]
    assert len(mappings) == 1


def test_removed_policy_statement_is_put_back(deployed: Context) -> None:
    iam = deployed.session.client("iam")
    policy = iam.get_role_policy(RoleName="POC-Lambda-2-Role", PolicyName="order-notifier")
    document = policy["PolicyDocument"]
    document["Statement"] = [
        s for s in document["Statement"] if s["Sid"] != "PublishOrderNotifications"
    ]
    iam.put_role_policy(
        RoleName="POC-Lambda-2-Role",
        PolicyName="order-notifier",
        PolicyDocument=json.dumps(document),
    )
    assert repair(deployed) == {"notifier-role": Outcome.UPDATED}
    restored = iam.get_role_policy(RoleName="POC-Lambda-2-Role", PolicyName="order-notifier")
    sids = [s["Sid"] for s in restored["PolicyDocument"]["Statement"]]
    assert "PublishOrderNotifications" in sids


def test_permission_added_by_hand_is_taken_away(deployed: Context) -> None:
    iam = deployed.session.client("iam")
    admin = iam.create_policy(
        PolicyName="everything",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="POC-Lambda-1-Role", PolicyArn=admin)
    iam.put_role_policy(
        RoleName="POC-Lambda-1-Role",
        PolicyName="added-by-hand",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sns:*", "Resource": "*"}],
            }
        ),
    )
    assert repair(deployed) == {"writer-role": Outcome.UPDATED}
    attached = iam.list_attached_role_policies(RoleName="POC-Lambda-1-Role")["AttachedPolicies"]
    assert attached == []
    assert iam.list_role_policies(RoleName="POC-Lambda-1-Role")["PolicyNames"] == ["order-writer"]


def test_disabled_stream_is_enabled_and_the_mapping_follows_the_new_stream(
    deployed: Context,
) -> None:
    ddb = deployed.session.client("dynamodb")
    ddb.update_table(TableName="orders", StreamSpecification={"StreamEnabled": False})
    # moto keeps the old stream label and then refuses to enable a stream again; AWS allows it
    # (with a new stream ARN). Clear the label so moto behaves as AWS does here.
    dynamodb_backends[ACCOUNT][REGION].tables["orders"].latest_stream_label = None
    changed = repair(deployed)
    assert changed["table"] is Outcome.UPDATED
    table = ddb.describe_table(TableName="orders")["Table"]
    assert table["StreamSpecification"]["StreamEnabled"] is True
    lam = deployed.session.client("lambda")
    (mapping,) = lam.list_event_source_mappings(FunctionName="POC-Lambda-2")["EventSourceMappings"]
    assert mapping["EventSourceArn"] == table["LatestStreamArn"]


def test_api_integration_changed_by_hand_is_put_back_and_redeployed(deployed: Context) -> None:
    ag = deployed.session.client("apigateway")
    api_id = deployed.outputs.api_id
    resource = next(r for r in ag.get_resources(restApiId=api_id)["items"] if r["path"] == "/order")
    ag.put_integration(
        restApiId=api_id,
        resourceId=resource["id"],
        httpMethod="POST",
        type="AWS",
        integrationHttpMethod="POST",
        uri="arn:aws:apigateway:us-east-1:sqs:path/123456789012/POC-Queue",
        requestTemplates={"application/json": "Action=SendMessage&MessageBody=$input.body"},
    )
    deployments = len(ag.get_deployments(restApiId=api_id)["items"])
    assert repair(deployed) == {"api": Outcome.UPDATED}
    method = ag.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod="POST")
    template = method["methodIntegration"]["requestTemplates"]["application/json"]
    assert "$util.urlEncode($input.body)" in template
    assert len(ag.get_deployments(restApiId=api_id)["items"]) == deployments + 1


def test_a_mapping_made_before_tagging_gets_the_stacks_tag_so_the_sweep_finds_it(
    deployed: Context,
) -> None:
    lam = deployed.session.client("lambda")
    for function in ("POC-Lambda-1", "POC-Lambda-2"):  # as an older pocctl made them: no tags
        (mapping,) = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
        lam.untag_resource(Resource=mapping["EventSourceMappingArn"], TagKeys=["pocctl:stack"])
    assert repair(deployed) == {
        "queue-mapping": Outcome.UPDATED,
        "stream-mapping": Outcome.UPDATED,
    }
    after = fresh(deployed)
    found = sweep(after, build_steps(after.config))
    mappings = [item.name for item in found.left if item.kind == "event source mapping"]
    assert sorted(name.split(" ")[1] for name in mappings) == ["(POC-Lambda-1)", "(POC-Lambda-2)"]


def test_a_setting_repaired_on_a_remade_stream_mapping_keeps_its_creation_time_floor(
    deployed: Context,
) -> None:
    # A mapping made again reads from a floor (StreamMappingStep.replay_floor): repairing another
    # setting must not drop it, or the mapping would replay what it skipped.
    lam = deployed.session.client("lambda")
    (mapping,) = lam.list_event_source_mappings(FunctionName="POC-Lambda-2")["EventSourceMappings"]
    floored = inserts_since(1764650000)
    lam.update_event_source_mapping(UUID=mapping["UUID"], FilterCriteria=floored, BatchSize=7)
    assert repair(deployed) == {"stream-mapping": Outcome.UPDATED}
    repaired = lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert repaired["BatchSize"] == deployed.config.tuning.stream_batch_size
    assert repaired["FilterCriteria"] == floored
