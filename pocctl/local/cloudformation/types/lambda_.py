"""AWS::Lambda::Function and AWS::Lambda::EventSourceMapping (CloudFormation Template Reference)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from pocctl.local.cloudformation.providers import (
    Made,
    Provider,
    Request,
    delete_quietly,
    only,
    stabilize,
    until_gone,
)

FUNCTION_AS_IS = (
    "Runtime",
    "Handler",
    "Role",
    "Description",
    "Timeout",
    "MemorySize",
    "Environment",
    "Architectures",
    "Layers",
    "DeadLetterConfig",
    "TracingConfig",
    "KMSKeyArn",
    "EphemeralStorage",
    "LoggingConfig",
    "PackageType",
    "VpcConfig",
)
MAPPING_AS_IS = (
    "EventSourceArn",
    "BatchSize",
    "StartingPosition",
    "StartingPositionTimestamp",
    "MaximumBatchingWindowInSeconds",
    "ParallelizationFactor",
    "DestinationConfig",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
    "FunctionResponseTypes",
    "ScalingConfig",
    "Queues",
    "Topics",
)


def inline_zip(runtime: str, source: str) -> bytes:
    """ZipFile: "CloudFormation places it in a file named index and zips it" (Template
    Reference, "AWS::Lambda::Function Code", ZipFile)."""
    suffix = ".py" if runtime.startswith("python") else ".js"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"index{suffix}", source)
    return buffer.getvalue()


def numbers(arguments: dict[str, Any]) -> dict[str, Any]:
    """Template numbers may be strings; the API takes integers."""
    for key in (
        "Timeout",
        "MemorySize",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
        "ParallelizationFactor",
        "TumblingWindowInSeconds",
    ):
        if key in arguments:
            arguments[key] = int(arguments[key])
    for key in ("BisectBatchOnFunctionError", "Enabled"):
        if isinstance(arguments.get(key), str):
            arguments[key] = arguments[key].lower() == "true"
    return arguments


class Function:
    stack_tags = True

    def create(self, request: Request) -> Made:
        aws = request.client("lambda")
        props = request.properties
        name = request.name("FunctionName")
        code = props["Code"]
        if "ZipFile" in code:
            code = {"ZipFile": inline_zip(str(props.get("Runtime", "")), code["ZipFile"])}
        arguments = numbers(only(props, *FUNCTION_AS_IS))
        if request.all_tags():
            arguments["Tags"] = request.tag_map()
        function = aws.create_function(FunctionName=name, Code=code, **arguments)
        if "ReservedConcurrentExecutions" in props:
            aws.put_function_concurrency(
                FunctionName=name,
                ReservedConcurrentExecutions=int(props["ReservedConcurrentExecutions"]),
            )

        def active() -> bool:
            state = aws.get_function_configuration(FunctionName=name)
            if state.get("State") == "Failed":
                raise RuntimeError(state.get("StateReason", "the function failed to start"))
            return bool(state.get("State", "Active") == "Active")

        made = Made(name, {"Arn": function["FunctionArn"]})
        try:
            stabilize(f"function {name}", active)
        except Exception:
            self.delete(request, made)  # a resource that failed leaves nothing behind
            raise
        return made

    def delete(self, request: Request, made: Made) -> None:
        aws = request.client("lambda")
        delete_quietly(lambda: aws.delete_function(FunctionName=made.physical_id))


class EventSourceMapping:
    stack_tags = True

    def create(self, request: Request) -> Made:
        aws = request.client("lambda")
        props = request.properties
        arguments = numbers(only(props, *MAPPING_AS_IS, "Enabled", "FilterCriteria"))
        if request.all_tags():
            arguments["Tags"] = request.tag_map()
        mapping = aws.create_event_source_mapping(FunctionName=props["FunctionName"], **arguments)
        uuid = mapping["UUID"]

        def settled() -> bool:
            state = aws.get_event_source_mapping(UUID=uuid)["State"]
            return state in ("Enabled", "Disabled")

        stabilize(f"event source mapping {uuid}", settled)
        arn = f"arn:aws:lambda:{request.region}:{request.account}:event-source-mapping:{uuid}"
        return Made(uuid, {"Id": uuid, "EventSourceMappingArn": arn})

    def delete(self, request: Request, made: Made) -> None:
        aws = request.client("lambda")
        uuid = made.physical_id
        delete_quietly(lambda: aws.delete_event_source_mapping(UUID=uuid))
        until_gone(f"event source mapping {uuid}", lambda: aws.get_event_source_mapping(UUID=uuid))


PROVIDERS: dict[str, Provider] = {
    "AWS::Lambda::Function": Function(),
    "AWS::Lambda::EventSourceMapping": EventSourceMapping(),
}
