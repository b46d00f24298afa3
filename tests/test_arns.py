"""ARNs are built in the region's partition and read back whole, whatever their resource holds."""

from __future__ import annotations

import pytest

from pocctl.core.arns import Arn, function_name, partition_of


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("eu-west-3", "aws"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-isob-east-1", "aws-iso-b"),
    ],
)
def test_an_arn_is_built_in_its_regions_partition(region: str, partition: str) -> None:
    assert partition_of(region) == partition
    built = Arn.build("sqs", region, "123456789012", "POC-Queue")
    assert str(built) == f"arn:{partition}:sqs:{region}:123456789012:POC-Queue"


def test_a_global_services_arn_names_no_region_but_keeps_the_partition() -> None:
    role = Arn.iam("cn-north-1", "123456789012", "role/POC-Role")
    assert str(role) == "arn:aws-cn:iam::123456789012:role/POC-Role"


def test_parse_reads_back_what_build_wrote() -> None:
    text = "arn:aws-cn:lambda:cn-north-1:123456789012:function:POC-Lambda-1:live"
    arn = Arn.parse(text)
    assert (arn.partition, arn.service, arn.region, arn.account) == (
        "aws-cn",
        "lambda",
        "cn-north-1",
        "123456789012",
    )
    assert arn.resource == "function:POC-Lambda-1:live"
    assert str(arn) == text


@pytest.mark.parametrize(
    ("text", "resource_type", "resource_id", "name"),
    [
        ("arn:aws:sqs:us-east-1:123456789012:POC-Queue", "", "POC-Queue", "POC-Queue"),
        ("arn:aws:sns:us-east-1:123456789012:POC-Topic", "", "POC-Topic", "POC-Topic"),
        (
            "arn:aws:sns:us-east-1:123456789012:POC-Topic:0b7d-4c1e",
            "",
            "POC-Topic:0b7d-4c1e",
            "POC-Topic",
        ),
        (
            "arn:aws:lambda:us-east-1:123456789012:function:POC-Lambda-1:live",
            "function",
            "POC-Lambda-1:live",
            "POC-Lambda-1",
        ),
        (
            "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-31T09:30:00.000",
            "table",
            "orders/stream/2026-01-31T09:30:00.000",
            "orders",
        ),
        (
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/POC-Lambda-1:*",
            "log-group",
            "/aws/lambda/POC-Lambda-1:*",
            "/aws/lambda/POC-Lambda-1",
        ),
        (
            "arn:aws:iam::123456789012:role/service-role/POC-Lambda-Role",
            "role",
            "service-role/POC-Lambda-Role",
            "POC-Lambda-Role",
        ),
        (
            "arn:aws:sts::123456789012:assumed-role/POC-Lambda-Role/session",
            "assumed-role",
            "POC-Lambda-Role/session",
            "POC-Lambda-Role",
        ),
        (
            "arn:aws:apigateway:us-east-1::/restapis/a1b2/stages/prod",
            "restapis",
            "a1b2/stages/prod",
            "a1b2",
        ),
    ],
)
def test_a_resource_holding_colons_and_slashes_keeps_its_type_id_and_name(
    text: str, resource_type: str, resource_id: str, name: str
) -> None:
    arn = Arn.parse(text)
    assert (arn.resource_type, arn.resource_id, arn.name) == (resource_type, resource_id, name)
    assert str(arn) == text


@pytest.mark.parametrize(
    "text", ["", "POC-Queue", "arn:aws:sqs:us-east-1:123456789012", "urn:aws:sqs:r:a:q"]
)
def test_what_is_not_an_arn_is_refused_by_parse_and_none_for_of(text: str) -> None:
    with pytest.raises(ValueError, match="not an ARN"):
        Arn.parse(text)
    assert Arn.of(text) is None


@pytest.mark.parametrize(
    "named",
    [
        "POC-Lambda-1",
        "POC-Lambda-1:live",
        "123456789012:function:POC-Lambda-1",
        "arn:aws:lambda:us-east-1:123456789012:function:POC-Lambda-1",
        "arn:aws-cn:lambda:cn-north-1:123456789012:function:POC-Lambda-1:7",
    ],
)
def test_a_function_is_known_by_its_name_arn_or_partial_arn(named: str) -> None:
    assert function_name(named) == "POC-Lambda-1"
