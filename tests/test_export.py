"""`pocctl export`: the stack `up` builds, as CloudFormation and SAM templates, offline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.core.config import Config, Tuning
from pocctl.core.context import Context
from pocctl.core.reporting import RecordingReporter
from pocctl.ops.export import OfflineContext, build_template, references
from pocctl.pipeline.stack import boundary_policy, build_steps
from pocctl.resources.alarms import AlarmStep
from pocctl.resources.cloudformation import REGION, attribute, intrinsics, logical_id, ref
from pocctl.resources.functions import FunctionStep
from pocctl.resources.iam import RoleStep
from pocctl.resources.logs import LogGroupStep
from pocctl.resources.topic import TopicStep

from .wheels import make_wheel, offline_requirements

EMAIL = "ops@example.com"


def export(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(cli, ["export", *args])


def exported(runner: CliRunner, out: Path, *args: str) -> dict[str, Any]:
    result = export(runner, "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    template: dict[str, Any] = json.loads((out / "template.json").read_text())
    return template


def resolved(value: Any, config: Config, ctx: Context | None = None) -> Any:
    """A template's value as CloudFormation makes it in the account OfflineContext names (or
    `ctx`'s)."""
    pseudo = {
        "AWS::AccountId": ctx.account_id if ctx else "000000000000",
        "AWS::Region": config.region,
        "AWS::Partition": "aws",
    }
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"]
        return re.sub(r"\$\{([^}]+)\}", lambda m: pseudo.get(m.group(1), m.group(0)), text)
    if isinstance(value, dict):
        return {key: resolved(item, config, ctx) for key, item in value.items()}
    if isinstance(value, list):
        return [resolved(item, config, ctx) for item in value]
    return value


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """A laptop with no AWS account configured: the export asks nothing of AWS."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")


def test_every_step_up_runs_is_a_resource_of_both_templates(
    runner: CliRunner, tmp_path: Path, no_credentials: None
) -> None:
    cloudformation = exported(runner, tmp_path / "cfn", "--email", EMAIL)
    sam = exported(runner, tmp_path / "sam", "--email", EMAIL, "--format", "sam")
    steps = build_steps(Config(email=EMAIL))
    for template in (cloudformation, sam):
        for step in steps:
            assert logical_id(step.key) in template["Resources"], step.key
    api = {r["Type"] for name, r in cloudformation["Resources"].items() if name.startswith("Api")}
    assert {
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::Model",
        "AWS::ApiGateway::RequestValidator",
        "AWS::ApiGateway::GatewayResponse",
        "AWS::ApiGateway::Resource",
        "AWS::ApiGateway::Method",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Stage",
    } <= api
    assert sam["Transform"] == "AWS::Serverless-2016-10-31"
    for step in steps:
        if isinstance(step, FunctionStep):
            function = sam["Resources"][logical_id(step.key)]
            assert function["Type"] == "AWS::Serverless::Function"
            assert function["Properties"]["CodeUri"] == step.code_file
            assert cloudformation["Resources"][logical_id(step.key)]["Properties"]["Code"] == (
                step.code_file
            )
            assert (tmp_path / "cfn" / step.code_file).is_file()
            assert (tmp_path / "sam" / step.code_file).is_file()


def test_without_an_email_there_is_no_subscription(runner: CliRunner, tmp_path: Path) -> None:
    template = exported(runner, tmp_path)
    types = [r["Type"] for r in template["Resources"].values()]
    assert "AWS::SNS::Subscription" not in types
    assert "AWS::SNS::Topic" in types


def test_functions_are_made_after_their_log_groups_and_deleted_before_them(
    runner: CliRunner, tmp_path: Path
) -> None:
    """DependsOn orders deletion the other way: the function goes first, and no last invocation
    makes its log group again, untagged."""
    template = exported(runner, tmp_path)
    steps = build_steps(Config())
    groups = {s.group_name: s for s in steps if isinstance(s, LogGroupStep)}
    for step in steps:
        if isinstance(step, FunctionStep):
            group = groups[f"/aws/lambda/{step.function_name}"]
            made = template["Resources"][logical_id(step.key)]
            assert logical_id(group.key) in made["DependsOn"]
            retention = template["Resources"][logical_id(group.key)]["Properties"]
            assert retention["RetentionInDays"] == Tuning().log_retention_days


def test_the_policies_are_the_ones_up_renders(runner: CliRunner, tmp_path: Path) -> None:
    template = exported(runner, tmp_path)
    config = Config()
    ctx = OfflineContext(config, RecordingReporter())
    for step in build_steps(config):
        if isinstance(step, RoleStep):
            role = template["Resources"][logical_id(step.key)]["Properties"]
            (policy,) = resolved(role["Policies"], config)
            assert policy == {
                "PolicyName": step.policy_name,
                "PolicyDocument": step.desired_policy(ctx),
            }
            assert resolved(role["PermissionsBoundary"], config) == step.boundary_arn(ctx)
    boundary = template["Resources"]["Boundary"]["Properties"]["PolicyDocument"]
    assert resolved(boundary, config) == boundary_policy(ctx)


def test_account_region_and_partition_are_left_to_cloudformation(
    runner: CliRunner, tmp_path: Path
) -> None:
    exported(runner, tmp_path, "--region", "eu-west-3")
    text = (tmp_path / "template.json").read_text()
    assert "eu-west-3" not in text and "000000000000" not in text
    assert "arn:aws:" not in text
    template = json.loads(text)
    url = template["Outputs"]["OrderUrl"]["Value"]
    assert url == {
        "Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/prod/order"
    }


def test_the_throttle_and_the_stage_show_up_with_their_record(
    runner: CliRunner, tmp_path: Path
) -> None:
    template = exported(
        runner, tmp_path, "--rate-limit", "50", "--burst-limit", "7", "--stage", "live"
    )
    stage = template["Resources"][logical_id("api", "stage")]["Properties"]
    assert stage["StageName"] == "live"
    (settings,) = stage["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (50.0, 7)
    tags = {t["Key"]: t["Value"] for t in stage["Tags"]}
    assert tags["pocctl:rate-limit"] == "50" and tags["pocctl:burst-limit"] == "7"
    assert tags["pocctl:stage"] == "live" and tags["pocctl:stack"] == "POC"


@pytest.mark.slow  # heavy (tests/cases.py)
def test_own_handlers_with_a_dependency_are_packaged_with_it(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POCCTL_CACHE_DIR", str(tmp_path / "cache"))
    assert runner.invoke(cli, ["init", "--handlers"]).exit_code == 0
    handlers = tmp_path / "handlers"
    wheels = tmp_path / "wheels"
    make_wheel(wheels)
    (handlers / "requirements.txt").write_text(offline_requirements(wheels, "orderstamp"))
    template = exported(runner, tmp_path / "out", "--handlers", str(handlers), "--format", "sam")
    for step in build_steps(Config(handlers=str(handlers))):
        if isinstance(step, FunctionStep):
            with zipfile.ZipFile(tmp_path / "out" / step.code_file) as archive:
                assert "orderstamp.py" in archive.namelist()
            tags = template["Resources"][logical_id(step.key)]["Properties"]["Tags"]
            assert tags["pocctl:code"] == str(handlers.resolve())


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--format", "terraform"], 2, "'terraform' is not one of 'cloudformation', 'sam'"),
        (["--out", "template.json"], 2, "--out template.json is a file"),
        (["--out", "/proc/pocctl-export"], 1, "Can't write into /proc/pocctl-export"),
    ],
)
def test_bad_input_is_a_clear_error(
    runner: CliRunner, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    (tmp_path / "template.json").write_text("{}")
    result = export(runner, *args)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_json_says_what_was_written_and_how_to_deploy_it(runner: CliRunner, tmp_path: Path) -> None:
    result = export(runner, "--out", "sam", "--format", "sam", "--stack", "dev", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["format"] == "sam"
    assert Path(document["template"]) == tmp_path / "sam" / "template.json"
    assert set(document["code"]) == {"dev-Lambda-1", "dev-Lambda-2"}
    assert document["resources"]["Writer"] == "AWS::Serverless::Function"
    assert any(c.startswith("sam deploy") and "--stack-name dev" in c for c in document["deploy"])


@pytest.mark.parametrize("fmt", ["cloudformation", "sam"])
def test_cfn_lint_finds_nothing_to_say(runner: CliRunner, tmp_path: Path, fmt: str) -> None:
    """cfn-lint transforms the SAM template with AWS's SAM translator first: it translates."""
    from cfnlint.api import ManualArgs, lint_file

    exported(runner, tmp_path, "--format", fmt, "--email", EMAIL)
    matches = lint_file(tmp_path / "template.json", config=ManualArgs(regions=["us-east-1"]))
    assert [str(m) for m in matches] == []


def test_the_api_steps_method_and_integration_are_the_ones_up_puts(deployed: Context) -> None:
    """Compared with what `up` made, read back from the API (moto), not with the code that
    built the template."""
    template = build_template(deployed.config, build_steps(deployed.config), RecordingReporter())
    made = {
        made["Type"].rsplit("::", 1)[1]: resolved(made["Properties"], deployed.config, deployed)
        for name, made in template["Resources"].items()
        if name.startswith("Api") and made["Type"].startswith("AWS::ApiGateway::")
    }
    ag = deployed.client("apigateway")
    (api,) = [a for a in ag.get_rest_apis()["items"] if a["name"] == made["RestApi"]["Name"]]
    (resource,) = [
        r for r in ag.get_resources(restApiId=api["id"])["items"] if r["path"] == "/order"
    ]
    live = ag.get_method(restApiId=api["id"], resourceId=resource["id"], httpMethod="POST")
    method, integration = made["Method"], made["Method"]["Integration"]
    assert (method["HttpMethod"], method["AuthorizationType"]) == (
        "POST",
        live["authorizationType"],
    )
    assert method["RequestModels"] == live["requestModels"]
    (model,) = [m for m in ag.get_models(restApiId=api["id"])["items"] if m["name"] == "Order"]
    assert made["Model"]["Name"] == model["name"]
    assert made["Model"]["Schema"] == json.loads(model["schema"])
    validator = ag.get_request_validator(
        restApiId=api["id"], requestValidatorId=live["requestValidatorId"]
    )
    assert made["RequestValidator"] == {
        "RestApiId": {"Ref": "Api"},
        "Name": validator["name"],
        "ValidateRequestBody": validator["validateRequestBody"],
        "ValidateRequestParameters": validator["validateRequestParameters"],
    }
    assert method["RequestValidatorId"] == {"Ref": logical_id("api", "validator")}
    assert sorted(r["StatusCode"] for r in method["MethodResponses"]) == sorted(
        live["methodResponses"]
    )
    put = live["methodIntegration"]
    assert integration["Type"] == put["type"]
    assert integration["IntegrationHttpMethod"] == put["httpMethod"]
    assert integration["PassthroughBehavior"] == put["passthroughBehavior"]
    assert integration["Uri"] == put["uri"]
    assert integration["Credentials"] == put["credentials"]
    assert integration["RequestTemplates"] == put["requestTemplates"]
    assert integration["RequestParameters"] == put["requestParameters"]
    responses = {
        r["StatusCode"]: (r.get("SelectionPattern", ""), r["ResponseTemplates"])
        for r in integration["IntegrationResponses"]
    }
    assert responses == {
        status: (r.get("selectionPattern", ""), r["responseTemplates"])
        for status, r in put["integrationResponses"].items()
    }


def ordered_after(template: dict[str, Any], name: str) -> set[str]:
    """What CloudFormation makes before `name` (and deletes after it): its DependsOn and what
    it refers to, and theirs in turn."""
    resources = template["Resources"]
    found: set[str] = set()
    waiting = [name]
    while waiting:
        made = resources[waiting.pop()]
        direct = {*made.get("DependsOn", []), *references(made.get("Properties", {}))}
        waiting += [d for d in direct - found if d in resources]
        found |= direct
    return found


def test_every_resource_is_made_after_what_its_step_waits_for_in_up(
    runner: CliRunner, tmp_path: Path
) -> None:
    """The step graph `up` and `down` walk is CloudFormation's order too: a role after the
    boundary it names (by ARN only), a subscription after its topic, a mapping after its
    function, the API after its role."""
    template = exported(runner, tmp_path, "--email", EMAIL)
    for step in build_steps(Config(email=EMAIL)):
        before = ordered_after(template, logical_id(step.key))
        for waited in step.depends_on:
            assert logical_id(waited) in before, (step.key, waited)


@pytest.mark.parametrize(
    ("resource", "after"),
    [
        (logical_id("api", "method"), logical_id("api-role")),
        (logical_id("api", "method"), logical_id("api", "model")),
        (logical_id("writer-role"), "Boundary"),
        (logical_id("notifier-role"), "Boundary"),
        (logical_id("api-role"), "Boundary"),
        # The mapping reads the queue with its function's role: its policies come first.
        (logical_id("queue-mapping"), logical_id("writer")),
        (logical_id("queue-mapping"), logical_id("writer-role")),
        (logical_id("stream-mapping"), logical_id("notifier")),
        (logical_id("stream-mapping"), logical_id("notifier-role")),
        (logical_id("subscription"), logical_id("topic")),
    ],
)
def test_what_needs_another_resource_is_made_after_it(
    runner: CliRunner, tmp_path: Path, resource: str, after: str
) -> None:
    template = exported(runner, tmp_path, "--email", EMAIL)
    assert after in ordered_after(template, resource)


def test_the_deployment_is_made_after_the_method_and_the_gateway_response(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A deployment is the API as it is when made: one before the method serves nothing, one
    before the gateway response answers a bad body with API Gateway's default."""
    template = exported(runner, tmp_path)
    before = ordered_after(template, deployment_of(template))
    assert {logical_id("api", "method"), logical_id("api", "bad-body")} <= before


def test_sam_translates_to_the_same_stack_as_the_cloudformation_template(
    runner: CliRunner, tmp_path: Path
) -> None:
    """AWS's SAM translator makes of the SAM template exactly the CloudFormation one's
    resources: SAM's shortcuts (roles, APIs, events) add nothing. It tags the functions
    lambda:createdBy=SAM, which no pocctl check reads."""
    from samtranslator.translator.transform import transform

    cloudformation = exported(runner, tmp_path / "cfn", "--email", EMAIL)
    sam = exported(runner, tmp_path / "sam", "--email", EMAIL, "--format", "sam")
    uploaded = {"S3Bucket": "bucket", "S3Key": "code.zip"}
    for made in sam["Resources"].values():
        if made["Type"] == "AWS::Serverless::Function":
            made["Properties"]["CodeUri"] = "s3://bucket/code.zip"

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    translated = transform(sam, {}, NoManagedPolicies())["Resources"]
    for made in cloudformation["Resources"].values():
        if made["Type"] == "AWS::Lambda::Function":
            made["Properties"]["Code"] = uploaded
            del made["Metadata"]
    for made in translated.values():
        if made["Type"] == "AWS::Lambda::Function":
            tags = made["Properties"]["Tags"]
            made["Properties"]["Tags"] = [t for t in tags if t["Key"] != "lambda:createdBy"]
    assert translated == cloudformation["Resources"]


@pytest.mark.parametrize("typed", ["${Queue}", "${AWS::Region}", "${HOME}", "${Table.StreamArn}"])
def test_a_value_that_reads_like_a_variable_stays_text(
    runner: CliRunner, tmp_path: Path, typed: str
) -> None:
    """A user's `${...}` reaches the function as typed, as `up` sets it, even where it reads
    like one of the template's logical ids or a pseudo parameter."""
    template = exported(runner, tmp_path, "--env", f"GREETING={typed}")
    writer = template["Resources"]["Writer"]["Properties"]["Environment"]["Variables"]
    notifier = template["Resources"]["Notifier"]["Properties"]["Environment"]["Variables"]
    assert writer["GREETING"] == notifier["GREETING"] == typed
    assert notifier["TOPIC_ARN"] == {
        "Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:POC-Topic"
    }


def test_beside_the_templates_own_variables_a_users_text_is_escaped() -> None:
    """CloudFormation User Guide, Fn::Sub: "To write a dollar sign and curly braces (${})
    literally, add an exclamation point"."""
    text = f"${{HOME}} ${{Queue}} ${{AWS::Region}} in {REGION} at {ref('api')}"
    assert intrinsics({"Value": text}) == {
        "Value": {"Fn::Sub": "${!HOME} ${!Queue} ${!AWS::Region} in ${AWS::Region} at ${Api}"}
    }


def test_the_alarms_are_exported_as_up_puts_them(runner: CliRunner, tmp_path: Path) -> None:
    """Each alarm is PutMetricAlarm's parameters, tagged; the alarm topic lets CloudWatch publish
    to it, as `up` sets its policy; the alarm email is subscribed; the stage records alarms on."""
    template = exported(runner, tmp_path, "--email", EMAIL)
    config = Config(email=EMAIL)
    ctx = OfflineContext(config, RecordingReporter())
    resources = template["Resources"]
    steps = build_steps(config)
    alarms = [s for s in steps if isinstance(s, AlarmStep)]
    assert len(alarms) == 6
    for alarm in alarms:
        made = resources[logical_id(alarm.key)]
        assert made["Type"] == "AWS::CloudWatch::Alarm"
        properties = resolved(made["Properties"], config)
        assert properties.pop("Tags") == [{"Key": "pocctl:stack", "Value": "POC"}]
        assert properties == alarm.desired(ctx)
    (topic,) = [s for s in steps if isinstance(s, TopicStep) and s.key == "alarm-topic"]
    assert topic.policy is not None
    policy = resources[logical_id("alarm-topic", "policy")]
    assert policy["Type"] == "AWS::SNS::TopicInlinePolicy"
    assert resolved(policy["Properties"]["PolicyDocument"], config) == topic.policy(ctx)
    subscription = resources[logical_id("alarm-subscription")]["Properties"]
    assert subscription["Endpoint"] == EMAIL
    stage = resources[logical_id("api", "stage")]["Properties"]
    assert {"Key": "pocctl:alarms", "Value": "on"} in stage["Tags"]


@pytest.mark.parametrize("in_settings", [False, True], ids=["--no-alarms", "alarms = false"])
def test_without_alarms_the_export_has_none(
    runner: CliRunner, tmp_path: Path, in_settings: bool
) -> None:
    if in_settings:
        (tmp_path / "pocctl.toml").write_text("alarms = false\n")
    flag = [] if in_settings else ["--no-alarms"]
    template = exported(runner, tmp_path / "out", "--alarm-email", EMAIL, *flag)
    resources = template["Resources"]
    types = [r["Type"] for r in resources.values()]
    assert "AWS::CloudWatch::Alarm" not in types
    assert "AWS::SNS::TopicInlinePolicy" not in types
    assert types.count("AWS::SNS::Topic") == 1
    assert not any(
        name.startswith("AlarmTopic") or name == "AlarmSubscription" for name in resources
    )
    stage = resources[logical_id("api", "stage")]["Properties"]
    assert {"Key": "pocctl:alarms", "Value": "off"} in stage["Tags"]
    assert intrinsics([ref("api"), attribute("table", "StreamArn")]) == [
        {"Ref": "Api"},
        {"Fn::GetAtt": ["Table", "StreamArn"]},
    ]


def deployment_of(template: dict[str, Any]) -> str:
    """The Deployment's logical id, after checking the stage serves it."""
    (deployment,) = [
        name
        for name, made in template["Resources"].items()
        if made["Type"] == "AWS::ApiGateway::Deployment"
    ]
    stage = template["Resources"][logical_id("api", "stage")]["Properties"]
    assert stage["DeploymentId"] == {"Ref": deployment}
    return deployment


@pytest.mark.parametrize(
    ("setting", "changed"),
    [
        ("REQUEST_TEMPLATE", "Action=SendMessage&MessageBody=$input.body"),
        ("ORDER_SCHEMA", {"type": "object"}),
        ("MODEL_NAME", "Order2"),
    ],
)
def test_a_changed_api_gets_a_new_deployment_so_a_stack_update_makes_it_live(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, changed: Any
) -> None:
    """A deployment is a snapshot: CloudFormation deploys the API again only for a Deployment
    of a new logical id (AWS CDK, aws_apigateway.Deployment), as `up` does when the API
    changes. The same settings keep the id: a second deploy makes no needless deployment."""
    before = deployment_of(exported(runner, tmp_path / "before"))
    assert deployment_of(exported(runner, tmp_path / "again")) == before
    monkeypatch.setattr(f"pocctl.resources.api.{setting}", changed)
    assert deployment_of(exported(runner, tmp_path / "after")) != before


def test_the_deployment_is_the_same_in_every_run_and_kept_for_a_new_throttle(
    runner: CliRunner, tmp_path: Path
) -> None:
    """The id depends on nothing of the run (another machine deploys the same template), and a
    stage setting needs no new deployment."""
    command = [sys.executable, "-m", "pocctl", "export", "--out", str(tmp_path / "other")]
    subprocess.run(command, check=True, capture_output=True, cwd=tmp_path)
    other = json.loads((tmp_path / "other" / "template.json").read_text())
    here = exported(runner, tmp_path / "here")
    assert deployment_of(here) == deployment_of(other)
    throttled = exported(runner, tmp_path / "throttled", "--rate-limit", "5")
    assert deployment_of(throttled) == deployment_of(here)
    assert deployment_of(exported(runner, tmp_path / "q", "--stack", "other")) != deployment_of(
        here
    )
