"""Export: the stack `up` builds, as a CloudFormation or SAM template beside the functions' code.

Every resource comes from its own step's `template`, built from the values its `apply` uses, in
a context that answers CloudFormation's pseudo parameters where `up` asks AWS (the account, the
region, the partition): no AWS call, no credentials. The steps' graph gives each resource its
DependsOn, so CloudFormation makes and deletes them in the order `up` and `down` do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pocctl.code.packaging import Package
from pocctl.core.config import Config
from pocctl.core.context import Context, Outputs
from pocctl.core.errors import ConfigError, PocctlError
from pocctl.core.reporting import Reporter
from pocctl.core.session import new_session
from pocctl.pipeline.stack import build_steps, code_source
from pocctl.resources.base import AnyStep
from pocctl.resources.cloudformation import (
    ACCOUNT,
    PARTITION,
    PSEUDO,
    REGION,
    URL_SUFFIX,
    Resources,
    intrinsics,
    logical_id,
    ref,
)
from pocctl.resources.functions import FunctionStep
from pocctl.resources.queues import QueueStep

CLOUDFORMATION = "cloudformation"
SAM = "sam"
FORMATS = (CLOUDFORMATION, SAM)
TEMPLATE_FILE = "template.json"
SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
TEMPLATE_VERSION = "2010-09-09"

# A function's Code is the local path of its zip, as `aws cloudformation package` takes it (and
# uploads it): cfn-lint warns of exactly that (W3002, "This code may only work with 'package'
# cli command"), which is this template's purpose, so the function says so to cfn-lint.
PACKAGED_CODE = {"cfn-lint": {"config": {"ignore_checks": ["W3002"]}}}

# A variable of Fn::Sub: a pseudo parameter, a logical id, or a logical id's attribute.
VARIABLE = re.compile(r"\$\{([A-Za-z0-9:]+)(?:\.([A-Za-z0-9.]+))?\}")


@runtime_checkable
class Exported(Protocol):
    """A step that knows its CloudFormation resources (every step of the stack does)."""

    key: str
    depends_on: tuple[str, ...]

    def template(self, ctx: Context) -> Resources: ...


@runtime_checkable
class HandsOn(Protocol):
    """A step whose resources others refer to through ctx.outputs (the table's stream)."""

    def template_outputs(self, ctx: Context) -> Outputs: ...


class OfflineContext(Context):
    """The context the code is built and checked in, as `up` does, with no AWS call: the
    handlers' import check sees the variables they get (TOPIC_ARN) with an account of zeros, as
    Config's own size check spells them. It makes no client."""

    def __init__(self, config: Config, reporter: Reporter) -> None:
        super().__init__(config, reporter, session=new_session(region_name=config.region))

    @property
    def account_id(self) -> str:
        return "000000000000"

    def client(self, service: str) -> Any:
        raise AssertionError(f"the export asks nothing of AWS: no {service} client")


class TemplateContext(OfflineContext):
    """The context templates are built in: the account, region and partition are
    CloudFormation's pseudo parameters, the order URL AWS's (not that of an emulator the
    settings may point at)."""

    def __init__(self, config: Config, reporter: Reporter) -> None:
        super().__init__(replace(config, endpoint_url=None), reporter)

    @property
    def account_id(self) -> str:
        return ACCOUNT

    @property
    def region(self) -> str:
        return REGION

    @property
    def partition(self) -> str:
        return PARTITION

    @property
    def dns_suffix(self) -> str:
        return URL_SUFFIX


@dataclass(frozen=True)
class Export:
    """What `export` wrote."""

    format: str
    directory: Path
    template: Path
    code: dict[str, Path]  # function name -> its zip
    resources: dict[str, str]  # logical id -> type
    package: Package

    def deploy_commands(self, stack_name: str) -> list[str]:
        """How the standard tools deploy it (run in `directory`)."""
        capabilities = "--capabilities CAPABILITY_NAMED_IAM"
        if self.format == SAM:
            return [
                f"sam deploy --template-file {TEMPLATE_FILE} --stack-name {stack_name} "
                f"--resolve-s3 {capabilities}"
            ]
        return [
            f"aws cloudformation package --template-file {TEMPLATE_FILE} --s3-bucket BUCKET "
            "--output-template-file packaged.json --use-json",
            f"aws cloudformation deploy --template-file packaged.json --stack-name {stack_name} "
            f"{capabilities}",
        ]

    def as_json(self, stack_name: str) -> dict[str, Any]:
        return {
            "format": self.format,
            "directory": str(self.directory),
            "template": str(self.template),
            "code": {name: str(path) for name, path in self.code.items()},
            "resources": self.resources,
            "package": self.package.as_json(),
            "deploy": self.deploy_commands(stack_name),
        }


def export(config: Config, reporter: Reporter, out: Path, fmt: str) -> Export:
    """Write the template of the stack `config` describes, and the functions' zips (built and
    checked as `up` does), into `out` (made if missing). Nothing is asked of AWS."""
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown format {fmt!r}: choose {' or '.join(FORMATS)}.")
    directory = writable_directory(out)
    steps = build_steps(config)
    package = code_source(steps).package(OfflineContext(config, reporter))
    template = build_template(config, steps, reporter, fmt)
    code = {}
    for step in steps:
        if isinstance(step, FunctionStep):
            path = directory / step.code_file
            path.write_bytes(package.archive(step.handler))
            code[step.function_name] = path
    path = directory / TEMPLATE_FILE
    path.write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
    resources = {name: r["Type"] for name, r in template["Resources"].items()}
    return Export(fmt, directory, path, code, resources, package)


def writable_directory(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise ConfigError(
            f"--out {out} is a file: the export writes a template and the functions' code, "
            "so it needs a directory.",
            "Give a directory (it is made if missing), e.g. --out export/",
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".pocctl-export-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise PocctlError(
            f"Can't write into {out}: {exc.strerror or exc}.",
            "Choose a directory you may write to with --out DIR.",
        ) from exc
    return out.resolve()


def build_template(
    config: Config, steps: list[AnyStep], reporter: Reporter, fmt: str = CLOUDFORMATION
) -> dict[str, Any]:
    """The template of `steps`, each step's resources with the step graph's DependsOn."""
    ctx = TemplateContext(config, reporter)
    made: list[tuple[Resources, list[str]]] = []
    for step in steps:
        if not isinstance(step, Exported):
            raise TypeError(f"step {step.key} has no CloudFormation template")
        made.append((step.template(ctx), [logical_id(key) for key in step.depends_on]))
        if isinstance(step, HandsOn):  # in the steps' order, as `up` hands on its outputs
            ctx.outputs.take(step.template_outputs(ctx))
    resources: Resources = {
        name: with_dependencies(intrinsics(found), after)
        for of_step, after in made
        for name, found in of_step.items()
    }
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": TEMPLATE_VERSION,
        "Description": f"pocctl stack {config.stack}, as `pocctl up` builds it "
        "(exported by `pocctl export`)",
        "Resources": resources,
        "Outputs": intrinsics(outputs(ctx, steps)),
    }
    # Resources present only when wanted (the subscription): nothing may depend on one absent.
    for made_resource in resources.values():
        if "DependsOn" in made_resource:
            made_resource["DependsOn"] = [d for d in made_resource["DependsOn"] if d in resources]
            if not made_resource["DependsOn"]:
                del made_resource["DependsOn"]
    if fmt == SAM:
        return as_sam(template)
    for made_resource in resources.values():
        if made_resource["Type"] == "AWS::Lambda::Function":
            made_resource["Metadata"] = PACKAGED_CODE
    return template


def outputs(ctx: Context, steps: list[AnyStep]) -> dict[str, Any]:
    """What `pocctl outputs` prints, as the stack's Outputs."""
    n = ctx.config.names
    queue = next(s for s in steps if isinstance(s, QueueStep) and s.queue_name == n.queue)
    values = {
        "Stack": ("pocctl's name of the stack (--stack)", ctx.config.stack),
        "Region": ("The region", ctx.region),
        "OrderUrl": ("The URL orders are POSTed to", ctx.outputs.order_url),
        "ApiId": ("The REST API's id", ctx.outputs.api_id),
        "Table": ("The orders table", n.table),
        "QueueUrl": ("The order queue's URL", ref(queue.key)),
        "DeadLetterQueue": ("The dead-letter queue", n.dead_letter_queue),
        "TopicArn": ("The notification topic", ctx.arn("sns", n.topic)),
        "WriterFunction": ("Lambda-1: stores each order", n.writer_function),
        "NotifierFunction": ("Lambda-2: publishes a notification", n.notifier_function),
    }
    return {
        name: {"Description": description, "Value": value}
        for name, (description, value) in values.items()
    }


def with_dependencies(made: dict[str, Any], after: list[str]) -> dict[str, Any]:
    """`after` as DependsOn, but for what a Ref, Fn::GetAtt or Fn::Sub of the resource orders
    already (cfn-lint W3005: a DependsOn that repeats one is noise)."""
    referenced = set(references(made.get("Properties", {})))
    wanted = [d for d in [*made.get("DependsOn", []), *after] if d not in referenced]
    made = {k: v for k, v in made.items() if k != "DependsOn"}
    if wanted:
        made["DependsOn"] = sorted(set(wanted))
    return made


def references(value: Any) -> Iterator[str]:
    """The logical ids a value refers to."""
    if isinstance(value, dict):
        if "Ref" in value:
            yield value["Ref"]
        if "Fn::GetAtt" in value:
            yield value["Fn::GetAtt"][0]
        if "Fn::Sub" in value:
            for match in VARIABLE.finditer(value["Fn::Sub"]):
                if not match.group(1).startswith(PSEUDO):
                    yield match.group(1)
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def as_sam(template: dict[str, Any]) -> dict[str, Any]:
    """The same stack for SAM: the functions as AWS::Serverless::Function, their code as
    CodeUri (what `sam deploy` uploads). The rest stays plain CloudFormation, which SAM passes
    through: SAM's shortcuts would build another stack than `up` does (a function's Events make
    mappings without the stack's tags, a missing Role makes a role named by SAM, an Api event
    makes SAM's own REST API and stage)."""
    resources = {}
    for name, made in template["Resources"].items():
        if made["Type"] == "AWS::Lambda::Function":
            properties = dict(made["Properties"])
            properties["CodeUri"] = properties.pop("Code")
            # SAM's Tags are a map (AWS SAM Developer Guide, AWS::Serverless::Function, Tags).
            properties["Tags"] = {t["Key"]: t["Value"] for t in properties["Tags"]}
            made = {**made, "Type": "AWS::Serverless::Function", "Properties": properties}
        resources[name] = made
    return {**template, "Transform": SAM_TRANSFORM, "Resources": resources}
