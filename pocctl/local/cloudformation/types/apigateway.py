"""API Gateway's REST API types (CloudFormation Template Reference, "AWS::ApiGateway::*").

Each property goes to the API call that takes it, under the API's own (camelCase) name: the
integration's credentials, request parameters and templates and its responses included (moto's
own CloudFormation drops these: /work/shared/AWS-NOTES.md).
"""

from __future__ import annotations

import random
import string
from typing import Any

from pocctl.local.cloudformation.providers import Made, Provider, Request, as_json, delete_quietly


def camel(key: str) -> str:
    return key[:1].lower() + key[1:]


def flag(value: Any) -> bool:
    return value.lower() == "true" if isinstance(value, str) else bool(value)


def short_id() -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=10))


def pointer(text: str) -> str:
    """A path segment of a JSON Patch path (RFC 6901: "~" is "~0", "/" is "~1")."""
    return text.replace("~", "~0").replace("/", "~1")


class RestApi:
    stack_tags = True

    def create(self, request: Request) -> Made:
        apigw = request.client("apigateway")
        props = request.properties
        arguments: dict[str, Any] = {"name": props.get("Name") or request.name("Name", 128)}
        for key in ("Description", "BinaryMediaTypes", "MinimumCompressionSize"):
            if key in props:
                arguments[camel(key)] = props[key]
        if "ApiKeySourceType" in props:
            arguments["apiKeySource"] = props["ApiKeySourceType"]
        if "Policy" in props:
            arguments["policy"] = as_json(props["Policy"])
        if "EndpointConfiguration" in props:
            arguments["endpointConfiguration"] = {
                camel(k): v for k, v in props["EndpointConfiguration"].items()
            }
        if "DisableExecuteApiEndpoint" in props:
            arguments["disableExecuteApiEndpoint"] = flag(props["DisableExecuteApiEndpoint"])
        if request.all_tags():
            arguments["tags"] = request.tag_map()
        api = apigw.create_rest_api(**arguments)
        if "Body" in props:
            apigw.put_rest_api(restApiId=api["id"], mode="overwrite", body=as_json(props["Body"]))
        root = next(
            item["id"]
            for item in apigw.get_resources(restApiId=api["id"])["items"]
            if item["path"] == "/"
        )
        return Made(api["id"], {"RootResourceId": root, "RestApiId": api["id"]})

    def delete(self, request: Request, made: Made) -> None:
        apigw = request.client("apigateway")
        delete_quietly(lambda: apigw.delete_rest_api(restApiId=made.physical_id))


class Resource:
    stack_tags = False

    def create(self, request: Request) -> Made:
        props = request.properties
        made = request.client("apigateway").create_resource(
            restApiId=props["RestApiId"], parentId=props["ParentId"], pathPart=props["PathPart"]
        )
        return Made(made["id"], {"ResourceId": made["id"]})

    def delete(self, request: Request, made: Made) -> None:
        apigw = request.client("apigateway")
        api = request.properties["RestApiId"]
        delete_quietly(lambda: apigw.delete_resource(restApiId=api, resourceId=made.physical_id))


class Method:
    stack_tags = False

    def create(self, request: Request) -> Made:
        apigw = request.client("apigateway")
        props = request.properties
        where = {
            "restApiId": props["RestApiId"],
            "resourceId": props["ResourceId"],
            "httpMethod": props["HttpMethod"],
        }
        method: dict[str, Any] = {"authorizationType": props.get("AuthorizationType", "NONE")}
        for key in ("AuthorizerId", "OperationName", "RequestModels", "RequestValidatorId"):
            if key in props:
                method[camel(key)] = props[key]
        if "ApiKeyRequired" in props:
            method["apiKeyRequired"] = flag(props["ApiKeyRequired"])
        if "RequestParameters" in props:
            method["requestParameters"] = {
                k: flag(v) for k, v in props["RequestParameters"].items()
            }
        apigw.put_method(**where, **method)
        for response in props.get("MethodResponses") or []:
            apigw.put_method_response(
                **where,
                statusCode=str(response["StatusCode"]),
                **{
                    camel(k): (
                        {p: flag(v) for p, v in value.items()}
                        if k == "ResponseParameters"
                        else value
                    )
                    for k, value in response.items()
                    if k in ("ResponseModels", "ResponseParameters")
                },
            )
        integration = dict(props.get("Integration") or {})
        if integration:
            responses = integration.pop("IntegrationResponses", [])
            arguments = {camel(k): v for k, v in integration.items()}
            arguments["type"] = integration["Type"]
            if "TimeoutInMillis" in arguments:
                arguments["timeoutInMillis"] = int(arguments["timeoutInMillis"])
            apigw.put_integration(**where, **arguments)
            for response in responses:
                apigw.put_integration_response(
                    **where,
                    statusCode=str(response["StatusCode"]),
                    **{camel(k): v for k, v in response.items() if k != "StatusCode"},
                )
        return Made(f"{request.stack_name[:5]}-{request.logical_id[:5]}-{short_id()}")

    def delete(self, request: Request, made: Made) -> None:
        apigw = request.client("apigateway")
        props = request.properties
        delete_quietly(
            lambda: apigw.delete_method(
                restApiId=props["RestApiId"],
                resourceId=props["ResourceId"],
                httpMethod=props["HttpMethod"],
            )
        )


class Model:
    stack_tags = False

    def create(self, request: Request) -> Made:
        props = request.properties
        name = props.get("Name") or request.logical_id
        arguments: dict[str, Any] = {
            "restApiId": props["RestApiId"],
            "name": name,
            "contentType": props.get("ContentType", "application/json"),
        }
        if "Schema" in props:
            arguments["schema"] = as_json(props["Schema"])
        if "Description" in props:
            arguments["description"] = props["Description"]
        request.client("apigateway").create_model(**arguments)
        return Made(name)

    def delete(self, request: Request, made: Made) -> None:
        apigw = request.client("apigateway")
        api = request.properties["RestApiId"]
        delete_quietly(lambda: apigw.delete_model(restApiId=api, modelName=made.physical_id))


class RequestValidator:
    stack_tags = False

    def create(self, request: Request) -> Made:
        props = request.properties
        made = request.client("apigateway").create_request_validator(
            restApiId=props["RestApiId"],
            name=props.get("Name") or request.logical_id,
            validateRequestBody=flag(props.get("ValidateRequestBody", False)),
            validateRequestParameters=flag(props.get("ValidateRequestParameters", False)),
        )
        return Made(made["id"], {"RequestValidatorId": made["id"]})

    def delete(self, request: Request, made: Made) -> None:
        apigw = request.client("apigateway")
        api = request.properties["RestApiId"]
        delete_quietly(
            lambda: apigw.delete_request_validator(
                restApiId=api, requestValidatorId=made.physical_id
            )
        )


class GatewayResponse:
    stack_tags = False

    def create(self, request: Request) -> Made:
        props = request.properties
        arguments = {
            camel(k): v
            for k, v in props.items()
            if k in ("ResponseType", "StatusCode", "ResponseParameters", "ResponseTemplates")
        }
        request.client("apigateway").put_gateway_response(restApiId=props["RestApiId"], **arguments)
        return Made(f"{request.stack_name[:5]}-{request.logical_id[:5]}-{short_id()}")

    def delete(self, request: Request, made: Made) -> None:
        apigw = request.client("apigateway")
        props = request.properties
        delete_quietly(
            lambda: apigw.delete_gateway_response(
                restApiId=props["RestApiId"], responseType=props["ResponseType"]
            )
        )


def method_setting_patches(settings: list[dict[str, Any]]) -> list[dict[str, str]]:
    """MethodSettings as UpdateStage's patch operations: "/{resource path}/{method}/{setting}",
    the resource path's slashes escaped, "/*/*" for every method (API Gateway API Reference,
    "UpdateStage" and "Stage", methodSettings)."""
    names = {
        "ThrottlingRateLimit": "throttling/rateLimit",
        "ThrottlingBurstLimit": "throttling/burstLimit",
        "LoggingLevel": "logging/loglevel",
        "DataTraceEnabled": "logging/dataTrace",
        "MetricsEnabled": "metrics/enabled",
        "CachingEnabled": "caching/enabled",
        "CacheTtlInSeconds": "caching/ttlInSeconds",
        "CacheDataEncrypted": "caching/dataEncrypted",
    }
    patches = []
    for setting in settings:
        path = setting.get("ResourcePath", "/*")
        where = "/*" if path == "/*" else "/" + pointer(path)
        method = setting.get("HttpMethod", "*")
        for key, name in names.items():
            if key in setting:
                value = setting[key]
                text = str(value).lower() if isinstance(value, bool) else str(value)
                patches.append({"op": "replace", "path": f"{where}/{method}/{name}", "value": text})
    return patches


class Deployment:
    stack_tags = False

    def create(self, request: Request) -> Made:
        props = request.properties
        arguments = {camel(k): v for k, v in props.items() if k in ("Description", "StageName")}
        made = request.client("apigateway").create_deployment(
            restApiId=props["RestApiId"], **arguments
        )
        return Made(made["id"], {"DeploymentId": made["id"]})

    def delete(self, request: Request, made: Made) -> None:
        apigw = request.client("apigateway")
        api = request.properties["RestApiId"]
        delete_quietly(
            lambda: apigw.delete_deployment(restApiId=api, deploymentId=made.physical_id)
        )


class Stage:
    stack_tags = True

    def create(self, request: Request) -> Made:
        apigw = request.client("apigateway")
        props = request.properties
        api, name = props["RestApiId"], props["StageName"]
        arguments: dict[str, Any] = {
            camel(k): v for k, v in props.items() if k in ("Description", "Variables")
        }
        if "TracingEnabled" in props:
            arguments["tracingEnabled"] = flag(props["TracingEnabled"])
        if request.all_tags():
            arguments["tags"] = request.tag_map()
        apigw.create_stage(
            restApiId=api, stageName=name, deploymentId=props["DeploymentId"], **arguments
        )
        patches = method_setting_patches(props.get("MethodSettings") or [])
        if patches:
            apigw.update_stage(restApiId=api, stageName=name, patchOperations=patches)
        return Made(name)

    def delete(self, request: Request, made: Made) -> None:
        apigw = request.client("apigateway")
        api = request.properties["RestApiId"]
        delete_quietly(lambda: apigw.delete_stage(restApiId=api, stageName=made.physical_id))


PROVIDERS: dict[str, Provider] = {
    "AWS::ApiGateway::RestApi": RestApi(),
    "AWS::ApiGateway::Resource": Resource(),
    "AWS::ApiGateway::Method": Method(),
    "AWS::ApiGateway::Model": Model(),
    "AWS::ApiGateway::RequestValidator": RequestValidator(),
    "AWS::ApiGateway::GatewayResponse": GatewayResponse(),
    "AWS::ApiGateway::Deployment": Deployment(),
    "AWS::ApiGateway::Stage": Stage(),
}
