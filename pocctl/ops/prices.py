"""The price table `pocctl cost` uses: shipped with pocctl (prices.json: region, date, source of
each price), or read from AWS's Price List API with `--refresh-prices` and kept in pocctl's
cache for the next runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pocctl.code.dependencies import cache_root
from pocctl.core.aws import error_code, error_message
from pocctl.core.errors import ConfigError, PocctlError

# The Price List Query API answers in us-east-1 (and a few others); not in every region
# (AWS Billing and Cost Management User Guide, "Using the AWS Price List Query API": "endpoints
# ... us-east-1, eu-central-1, ap-south-1").
PRICING_REGION = "us-east-1"


@dataclass(frozen=True)
class PriceTable:
    region: str
    name: str
    date: str
    prices: dict[str, float]
    units: dict[str, str]
    sources: dict[str, str]
    free_tier: dict[str, dict[str, Any]]
    origin: str  # "shipped with pocctl" or "AWS Price List API, refreshed ..."

    def price(self, key: str) -> float:
        return float(self.prices[key])

    def unit(self, key: str) -> str:
        return self.units[key]

    def free(self, key: str) -> float:
        return float(self.free_tier[key]["amount"])

    def as_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "date": self.date,
            "origin": self.origin,
            "prices": self.prices,
            "sources": self.sources,
            "free_tier": self.free_tier,
        }


def shipped() -> dict[str, Any]:
    text = resources.files("pocctl.ops").joinpath("prices.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def refreshed_path(region: str) -> Path:
    return cache_root() / "prices" / f"{region}.json"


def known_regions() -> list[str]:
    refreshed = refreshed_path("x").parent
    kept = [p.stem for p in refreshed.glob("*.json")] if refreshed.is_dir() else []
    return sorted(set(shipped()["regions"]) | set(kept))


def load(region: str) -> PriceTable:
    """The prices for `region`: refreshed ones if this machine has them, else the shipped."""
    table = shipped()
    entry = table["regions"].get(region)
    origin = "shipped with pocctl"
    kept = refreshed_path(region)
    if kept.is_file():
        entry = json.loads(kept.read_text("utf-8"))
        origin = f"AWS Price List API, refreshed {entry['date']}"
    if entry is None:
        raise ConfigError(
            f"No prices for region {region!r}: pocctl knows {', '.join(known_regions())}. "
            f"Read them from AWS with `pocctl cost --region {region} --refresh-prices` "
            "(needs pricing:GetProducts), or ask for a known region."
        )
    return PriceTable(
        region,
        entry.get("name", region),
        entry["date"],
        {k: float(v) for k, v in entry["prices"].items()},
        table["units"],
        table["sources"],
        table["free_tier"],
        origin,
    )


# What to ask the Price List API for each price: the service code and the attribute filters
# (attribute names and values as the Price List publishes them: "group" AWS-Lambda-Requests and
# AWS-Lambda-Duration, DDB-WriteUnits, ...; `aws pricing get-attribute-values` lists them).
# Each query's products may carry several rates (tiers, free-tier rows): the first paid tier is
# taken (`first_paid_rate`).
QUERIES: dict[str, tuple[str, dict[str, str]]] = {
    "lambda_request": ("AWSLambda", {"group": "AWS-Lambda-Requests", "usagetype": "Request"}),
    "lambda_gb_second": (
        "AWSLambda",
        {"group": "AWS-Lambda-Duration", "usagetype": "Lambda-GB-Second"},
    ),
    "sqs_request": ("AWSQueueService", {"productFamily": "API Request", "queueType": "Standard"}),
    "dynamodb_write_request_unit": (
        "AmazonDynamoDB",
        {"productFamily": "Amazon DynamoDB PayPerRequest Throughput", "group": "DDB-WriteUnits"},
    ),
    "dynamodb_read_request_unit": (
        "AmazonDynamoDB",
        {"productFamily": "Amazon DynamoDB PayPerRequest Throughput", "group": "DDB-ReadUnits"},
    ),
    "dynamodb_storage_gb_month": (
        "AmazonDynamoDB",
        {"productFamily": "Database Storage", "volumeType": "Amazon DynamoDB - Indexed DataStore"},
    ),
    "apigateway_rest_request": (
        "AmazonApiGateway",
        {"productFamily": "API Calls", "operation": "ApiGatewayRequest"},
    ),
    # SNS's "API Request" family holds sibling products (other request kinds, some free from the
    # first request): only the publish requests' group is the price.
    "sns_publish": ("AmazonSNS", {"productFamily": "API Request", "group": "SNS-Requests-Tier1"}),
    "sns_email": ("AmazonSNS", {"productFamily": "Message Delivery", "endpointType": "SMTP"}),
    # The "Alarm" family holds high-resolution, composite and anomaly-detection alarms too: the
    # standard-resolution alarm is usage type (ending) CW:AlarmMonitorUsage.
    "cloudwatch_alarm_month": (
        "AmazonCloudWatch",
        {"productFamily": "Alarm", "usagetype": "CW:AlarmMonitorUsage"},
    ),
    "logs_ingested_gb": (
        "AmazonCloudWatch",
        {"productFamily": "Data Payload", "usagetype": "DataProcessing-Bytes"},
    ),
    "logs_stored_gb_month": (
        "AmazonCloudWatch",
        {"productFamily": "Storage Snapshot", "usagetype": "TimedStorage-ByteHrs"},
    ),
}


def _without_usagetype(filters: dict[str, str]) -> dict[str, str]:
    """Usage types outside us-east-1 carry the region's code ("EUW1-Request"): the
    `regionCode` filter picks the region, and the usage type is matched by its ending after."""
    return {k: v for k, v in filters.items() if k != "usagetype"}


def first_paid_rate(products: list[str], usagetype: str | None) -> float | None:
    """The lowest tier's price above zero among the products (each one a JSON string, as
    GetProducts returns them), of the usage type (its ending) when one is given."""
    rates: list[tuple[float, float]] = []
    for text in products:
        product = json.loads(text)
        attributes = product.get("product", {}).get("attributes", {})
        if usagetype and not str(attributes.get("usagetype", "")).endswith(usagetype):
            continue
        for term in product.get("terms", {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = float(dimension.get("pricePerUnit", {}).get("USD", "0") or 0)
                if usd > 0:
                    rates.append((float(dimension.get("beginRange", "0") or 0), usd))
    return min(rates)[1] if rates else None


def refresh(session: Any, region: str, today: str) -> PriceTable:
    """Every price of the table for `region`, read from the Price List API, kept in the cache."""
    client = session.client("pricing", region_name=PRICING_REGION)
    prices: dict[str, float] = {}
    for key, (service, filters) in QUERIES.items():
        asked = [
            {"Type": "TERM_MATCH", "Field": name, "Value": value}
            for name, value in {"regionCode": region, **_without_usagetype(filters)}.items()
        ]
        products: list[str] = []
        try:
            for page in client.get_paginator("get_products").paginate(
                ServiceCode=service, Filters=asked
            ):
                products += page.get("PriceList", [])
        except ClientError as exc:
            raise PocctlError(
                f"AWS refused to read prices ({error_code(exc)}): {error_message(exc)}",
                "--refresh-prices calls the Price List API (pricing:GetProducts, in us-east-1); "
                "grant it to your credentials, or run without --refresh-prices to use the "
                "prices shipped with pocctl.",
            ) from exc
        except BotoCoreError as exc:
            raise PocctlError(
                f"Could not reach AWS's Price List API: {exc}",
                "Check your network and credentials, or run without --refresh-prices.",
            ) from exc
        rate = first_paid_rate(products, filters.get("usagetype"))
        if rate is None:
            raise PocctlError(
                f"The Price List API has no {service} price for {key} in {region}.",
                "Is the region's code right, and does it offer the service? Without "
                "--refresh-prices pocctl uses its shipped prices.",
            )
        prices[key] = rate
    entry = {"name": region, "date": today, "prices": prices}
    path = refreshed_path(region)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entry, indent=2) + "\n", "utf-8")
    return load(region)
