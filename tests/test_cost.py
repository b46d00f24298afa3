"""`pocctl cost`: the month's figures checked against a hand computation, the free tier, the
alarms, bad input, the Price List API (botocore's Stubber), and the profile `test-order
--measure` records through `pocctl local`."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.cli.options import Runtime
from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.local.emulator import Emulator
from pocctl.ops import order_profile
from pocctl.ops.cost import StackShape, estimate, idle_month, idle_summary, shape_of
from pocctl.ops.order_profile import OrderProfile, billed_ms, item_size
from pocctl.ops.prices import QUERIES, load
from pocctl.pipeline.stack import build_steps
from pocctl.resources.alarms import AlarmStep

from .emulated import up_local

PRICES = json.loads(
    (Path(__file__).parent.parent / "pocctl" / "ops" / "prices.json").read_text("utf-8")
)["regions"]["us-east-1"]["prices"]

# A measured profile in round numbers, as `test-order --measure` keeps it for stack POC.
PROFILE = OrderProfile(
    writer_billed_ms=100,
    notifier_billed_ms=50,
    log_bytes=1000,
    item_bytes=1500,  # 2 WRU a write
    measured_where="AWS us-east-1",
    measured_when="2026-12-01",
    how="by hand, for the test",
)


@pytest.fixture(autouse=True)
def own_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Measured profiles and refreshed prices go to this test's own cache."""
    monkeypatch.setenv("POCCTL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def cost(runner: CliRunner, *args: str, **kwargs: Any) -> Result:
    return runner.invoke(cli, ["cost", *args], **kwargs)


def cost_json(runner: CliRunner, *args: str) -> dict[str, Any]:
    result = cost(runner, *args, "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def by_item(document: dict[str, Any], part: str = "monthly") -> dict[str, dict[str, Any]]:
    return {line["item"]: line for line in document[part]["lines"]}


def test_figures_match_a_hand_computation(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POCCTL_EMAIL", "orders@example.com")  # one subscriber to the emails
    order_profile.keep("us-east-1", "POC", PROFILE)
    document = cost_json(runner, "--orders-per-month", "100000", "--memory", "256")
    n = 100_000
    gib = 1024**3
    # Step by step, from prices.json's us-east-1 numbers and the profile above:
    api = n * 1 * PRICES["apigateway_rest_request"]  # 100,000 requests x $3.50/M = $0.35
    sqs_orders = n * 3 * PRICES["sqs_request"]  # send, receive, delete: 300,000 x $0.40/M
    polls = 5 * (3600 / 20) * 730  # 5 pollers, a 20 s long poll each, 730 h = 657,000 requests
    sqs_polls = polls * PRICES["sqs_request"]  # $0.2628
    invocations = n * 2 * PRICES["lambda_request"]  # 200,000 x $0.20/M = $0.04
    gb_seconds = n * (0.100 + 0.050) * (256 / 1024)  # 3,750 GB-s
    compute = gb_seconds * PRICES["lambda_gb_second"]  # $0.0625
    writes = n * 2 * 2 * PRICES["dynamodb_write_request_unit"]  # 2 writes of 2 WRU: $0.25
    reads = n * 1 * PRICES["dynamodb_read_request_unit"]  # $0.0125
    stored_gb = n * (1500 + 100) / gib  # 100 bytes of overhead an item: 0.149 GB
    storage = stored_gb * PRICES["dynamodb_storage_gb_month"]
    publishes = n * PRICES["sns_publish"]  # $0.05
    emails = n * PRICES["sns_email"]  # $2.00
    alarms = 6 * PRICES["cloudwatch_alarm_month"]  # $0.60
    ingested_gb = n * 1000 / gib
    ingestion = ingested_gb * PRICES["logs_ingested_gb"]
    kept = ingested_gb * (14 / (730 / 24)) * PRICES["logs_stored_gb_month"]  # 14 of 30.4 days
    total = (
        api + sqs_orders + sqs_polls + invocations + compute + writes + reads + storage
        + publishes + emails + alarms + ingestion + kept
    )  # fmt: skip
    assert total == pytest.approx(3.8329, abs=1e-4)
    lines = by_item(document)
    assert lines["REST requests"]["cost"] == pytest.approx(api)
    assert lines["the mapping's long polls of the order queue"]["quantity"] == 657_000
    assert lines["compute at 256 MB"]["quantity"] == pytest.approx(gb_seconds)
    assert lines["compute at 256 MB"]["cost"] == pytest.approx(compute, abs=1e-6)
    assert lines["writes (4 WRU an order)"]["cost"] == pytest.approx(writes)
    assert lines["emails (1 subscriber(s))"]["cost"] == pytest.approx(emails)
    assert document["monthly"]["total"] == pytest.approx(total, abs=1e-5)
    assert document["monthly"]["per_service"]["SQS"] == pytest.approx(sqs_orders + sqs_polls)
    # The free tier: SQS's first 1M requests cover the 957,000; Lambda's its requests and
    # compute; 1,000 of the emails; the 6 alarms (10 free); the log ingestion (5 GB). Neither
    # the REST API nor DynamoDB's on-demand requests have an always-free tier.
    after = api + writes + reads + (n - 1000) * PRICES["sns_email"] + kept
    assert document["monthly"]["total_after_free_tier"] == pytest.approx(after, abs=1e-5)
    assert document["profile"]["measured_where"] == "AWS us-east-1"
    # Idle: the mapping's polls and the alarms, nothing else.
    assert document["idle"]["total"] == pytest.approx(sqs_polls + alarms, abs=1e-6)
    assert set(by_item(document, "idle")) == {
        "the mapping's long polls of the order queue",
        "6 standard alarms",
    }


def test_the_free_tier_counts_once_across_lines_of_one_price(runner: CliRunner) -> None:
    order_profile.keep("us-east-1", "POC", PROFILE)
    document = cost_json(runner, "--orders-per-month", "200000")
    lines = by_item(document)
    orders, polls = (
        lines["order queue requests (send, receive, delete)"],
        lines["the mapping's long polls of the order queue"],
    )
    assert orders["free_tier"] + polls["free_tier"] == 1_000_000
    paid = (600_000 + 657_000 - 1_000_000) * PRICES["sqs_request"]
    assert orders["cost_after_free_tier"] + polls["cost_after_free_tier"] == pytest.approx(paid)


@pytest.mark.parametrize("in_settings", [False, True], ids=["--no-alarms", "alarms = false"])
def test_alarms_off_takes_their_price_off_the_month_and_the_idle_month(
    runner: CliRunner, tmp_path: Path, in_settings: bool
) -> None:
    """The alarms priced are those `up` makes for the settings: counted from its steps."""
    on = cost_json(runner)
    if in_settings:
        (tmp_path / "pocctl.toml").write_text("alarms = false\n")
    off = cost_json(runner, *([] if in_settings else ["--no-alarms"]))
    made = [s for s in build_steps(Config()) if isinstance(s, AlarmStep)]
    assert on["settings"]["alarms"] == len(made) == 6
    alarms = len(made) * PRICES["cloudwatch_alarm_month"]
    assert on["monthly"]["total"] - off["monthly"]["total"] == pytest.approx(alarms)
    assert on["idle"]["total"] - off["idle"]["total"] == pytest.approx(alarms)
    assert off["settings"]["alarms"] == 0


def test_shipped_profile_says_where_and_when_it_was_measured(runner: CliRunner) -> None:
    result = cost(runner)
    assert result.exit_code == 0, result.output
    shipped = order_profile.shipped()
    assert shipped.measured_where == "pocctl local" and shipped.measured_when
    said = " ".join(result.output.split())
    assert f"measured through pocctl local on {shipped.measured_when}" in said
    assert "through pocctl local: its functions run on this machine, not in a 128 MB" in said
    assert "Total: $" in result.output and "Idle: $" in result.output
    assert "Prices: US East (N. Virginia)" in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--orders-per-month", "-1"], 2, "-1 is not in the range x>=0"),
        (["--memory", "64"], 2, "64 is not in the range 128<=x<=10240"),
        (["--log-retention-days", "10"], 2, "'10' is not one of '1', '3', '5', '7', '14', '30'"),
        (
            ["--region", "eu-west-3"],
            2,
            "No prices for region 'eu-west-3': pocctl knows us-east-1. Read them from AWS "
            "with `pocctl cost --region eu-west-3 --refresh-prices`",
        ),
    ],
)
def test_bad_input_is_an_error_that_says_what_to_do(
    runner: CliRunner, args: list[str], code: int, message: str
) -> None:
    result = cost(runner, *args)
    assert result.exit_code == code
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_figures_at_90_days_a_9000_byte_item_and_cold_starts(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POCCTL_EMAIL", "orders@example.com")
    cold = replace(PROFILE, item_bytes=9000, writer_init_ms=200, notifier_init_ms=300)
    order_profile.keep("us-east-1", "POC", cold)
    document = cost_json(runner, "--orders-per-month", "1000", "--log-retention-days", "90")
    lines = by_item(document)
    n, gib = 1000, 1024**3
    # A 9,000-byte item: 9 WRU a write (1 KB each), 3 RRU a read (the whole item in 4 KB units).
    assert lines["writes (18 WRU an order)"]["quantity"] == n * 18
    assert lines["consistent reads (3 RRU an order)"]["quantity"] == n * 3
    assert lines["consistent reads (3 RRU an order)"]["cost"] == pytest.approx(
        3000 * PRICES["dynamodb_read_request_unit"]
    )
    # 90 days kept: 90/30.42 = 2.96 months of lines, not capped at one month.
    ingested_gb = n * 1000 / gib
    kept = lines["log lines kept (90 days)"]
    assert kept["quantity"] == pytest.approx(ingested_gb * 90 / (730 / 24))
    assert kept["quantity"] > ingested_gb * 2.9
    kept_gb = ingested_gb * 2.9589  # 0.00276 GB
    assert kept["cost"] == pytest.approx(kept_gb * PRICES["logs_stored_gb_month"], abs=1e-6)
    # 1,000 orders a month: under 4,380 (one cold start a function each 10 minutes), all cold:
    # each order is billed 150 ms warm plus 500 ms of INIT at 128 MB.
    assert lines["compute at 128 MB"]["quantity"] == pytest.approx(n * 0.150 * (128 / 1024))
    init = lines["INIT phase of cold starts (1,000 orders, 500 ms each)"]
    assert init["quantity"] == pytest.approx(n * 0.500 * (128 / 1024))  # 62.5 GB-s
    said = " ".join(document["notes"])
    assert "at most 4,380 cold orders a month" in said
    assert "measured on AWS us-east-1" in said


def test_cold_orders_stop_at_one_a_function_each_ten_minutes(runner: CliRunner) -> None:
    cold = replace(PROFILE, writer_init_ms=200, notifier_init_ms=300)
    order_profile.keep("us-east-1", "POC", cold)
    document = cost_json(runner, "--orders-per-month", "100000")
    lines = by_item(document)
    init = lines["INIT phase of cold starts (4,380 orders, 500 ms each)"]
    assert init["quantity"] == pytest.approx(4380 * 0.500 * (128 / 1024))


def test_requests_bill_a_64_kb_chunk_each(runner: CliRunner) -> None:
    big = replace(PROFILE, item_bytes=100_000)  # two 64 KB chunks
    order_profile.keep("us-east-1", "POC", big)
    lines = by_item(cost_json(runner, "--orders-per-month", "1000"))
    # The send and the receive carry the order (2 chunks each), the delete a receipt handle.
    assert lines["order queue requests (send, receive, delete)"]["quantity"] == 1000 * 5
    assert lines["publishes"]["quantity"] == 1000 * 2
    assert lines["publishes"]["cost"] == pytest.approx(2000 * PRICES["sns_publish"])


def test_no_email_prices_no_emails(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POCCTL_EMAIL", raising=False)
    without = by_item(cost_json(runner, "--orders-per-month", "1000"))
    assert without["emails (0 subscriber(s))"]["cost"] == 0
    monkeypatch.setenv("POCCTL_EMAIL", "orders@example.com")
    with_one = by_item(cost_json(runner, "--orders-per-month", "1000"))
    assert with_one["emails (1 subscriber(s))"]["cost"] == pytest.approx(1000 * PRICES["sns_email"])


def test_the_idle_month_counts_the_rows_stored_now_or_says_it_left_them_out() -> None:
    held = idle_month("us-east-1", StackShape(), stored_bytes=2 * 1024**3)  # 2 GB of rows
    unread = idle_month("us-east-1", StackShape())
    assert held is not None and unread is not None
    assert held.idle_total - unread.idle_total == pytest.approx(
        2 * PRICES["dynamodb_storage_gb_month"]
    )
    assert "DynamoDB storage of the rows stored now $0.50" in idle_summary(held)
    assert "DynamoDB storage of stored rows left out" in idle_summary(unread)
    assert "storage of the rows the table holds now is excluded" in " ".join(unread.notes)


def test_readme_figures_for_the_default_stack_are_the_codes() -> None:
    table, profile = load("us-east-1"), order_profile.shipped()
    emailed = shape_of(Config(email="orders@example.com"))
    idle = estimate(table, profile, emailed, 0).idle_total
    per_1000 = estimate(table, profile, emailed, 1000).total - idle
    emails = 1000 * table.price("sns_email")
    alone = estimate(table, profile, shape_of(Config()), 1000).total - idle
    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text("utf-8").split())
    said = (
        f"idle ${idle:.2f} a month at list price ($0.00 within the free tier); each 1,000 orders "
        f"add about ${per_1000:.3f} with an `--email` subscriber, {emails / per_1000:.0%} of it "
        f"the notification emails (${alone:.3f} without `--email`)"
    )
    assert said in readme


# -- the Price List API ------------------------------------------------------------------------


def product(usagetype: str, *rates: tuple[str, str]) -> str:
    """One GetProducts entry (a JSON string), with its tiers as (beginRange, USD)."""
    dimensions = {
        f"SKU.TERM.{i}": {"beginRange": begin, "pricePerUnit": {"USD": usd}}
        for i, (begin, usd) in enumerate(rates)
    }
    return json.dumps(
        {
            "product": {"attributes": {"usagetype": usagetype}},
            "terms": {"OnDemand": {"SKU.TERM": {"priceDimensions": dimensions}}},
        }
    )


class StubbedSession:
    """What the command's session factory hands out: a pricing client behind a Stubber."""

    region_name = "eu-west-3"

    def __init__(self, client: Any) -> None:
        self.pricing = client

    def client(self, name: str, region_name: str | None = None) -> Any:
        assert (name, region_name) == ("pricing", "us-east-1")  # the Price List's endpoint
        return self.pricing

    def get_credentials(self) -> Any:
        return object()


def pricing_stubbed() -> tuple[Any, Stubber]:
    client = boto3.client("pricing", region_name="us-east-1")
    return client, Stubber(client)


class PriceList:
    """The Price List API's GetProducts as AWS answers it: the products of the service whose
    attributes match every TERM_MATCH filter, siblings and all (its paginator, one page)."""

    def __init__(self, products: list[tuple[str, dict[str, str], str]]) -> None:
        self.products = products  # (service code, attributes, the GetProducts entry)
        self.asked: list[str] = []

    def get_paginator(self, name: str) -> PriceList:
        assert name == "get_products"
        return self

    def paginate(self, ServiceCode: str, Filters: list[dict[str, str]]) -> list[dict[str, Any]]:
        self.asked.append(ServiceCode)
        wanted = {f["Field"]: f["Value"] for f in Filters if f["Type"] == "TERM_MATCH"}
        found = [
            entry
            for service, attributes, entry in self.products
            if service == ServiceCode
            and all(attributes.get(name) == value for name, value in wanted.items())
        ]
        return [{"PriceList": found, "FormatVersion": "aws_v1"}]


def priced(
    service: str, attributes: dict[str, str], *rates: tuple[str, str]
) -> tuple[str, dict[str, str], str]:
    usagetype = "EU-" + attributes.get("usagetype", "Thing")
    every = {"regionCode": "eu-west-3", **attributes, "usagetype": usagetype}
    return service, every, product(usagetype, *rates)


def test_refresh_prices_reads_the_price_list_and_keeps_it(
    runner: CliRunner, own_cache: Path
) -> None:
    products = []
    for key, (service, filters) in QUERIES.items():
        # A free first tier and a paid one: the paid one's price is taken, doubled here.
        products.append(
            priced(service, filters, ("0", "0.0000000000"), ("1", str(PRICES[key] * 2)))
        )
    # Siblings in the same families, each paid from its first request, cheaper than the price:
    # the queries' filters must leave them out (SNS's other request kinds, FIFO queues,
    # high-resolution alarms).
    products += [
        priced("AmazonSNS", {"productFamily": "API Request", "group": "SNS-Requests-FIFO"},
               ("0", "0.0000000001")),
        priced("AWSQueueService", {"productFamily": "API Request", "queueType": "FIFO"},
               ("0", "0.0000000001")),
        priced("AmazonCloudWatch",
               {"productFamily": "Alarm", "usagetype": "CW:HighResAlarmMonitorUsage"},
               ("0", "0.0000000001")),
    ]  # fmt: skip
    client = PriceList(products)
    world = Runtime(session=lambda **_: StubbedSession(client))
    document = cost_json_with(runner, world, "--region", "eu-west-3", "--refresh-prices")
    assert sorted(client.asked) == sorted(service for service, _ in QUERIES.values())
    assert document["prices"]["prices"] == pytest.approx({k: v * 2 for k, v in PRICES.items()})
    assert document["prices"]["origin"].startswith("AWS Price List API, refreshed")
    assert (own_cache / "prices" / "eu-west-3.json").is_file()
    again = cost(runner, "--region", "eu-west-3")  # kept: no refresh needed
    assert again.exit_code == 0, again.output


def cost_json_with(runner: CliRunner, world: Runtime, *args: str) -> dict[str, Any]:
    result = runner.invoke(cli, ["cost", *args, "--json"], obj=world)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_refresh_prices_refused_says_what_is_missing(runner: CliRunner) -> None:
    client, stub = pricing_stubbed()
    stub.add_client_error(
        "get_products",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: pricing:GetProducts",
    )
    world = Runtime(session=lambda **_: StubbedSession(client))
    with stub:
        result = runner.invoke(cli, ["cost", "--refresh-prices"], obj=world)
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "AWS refused to read prices (AccessDeniedException)" in said
    assert "pricing:GetProducts" in said and "without --refresh-prices" in said


# -- measuring -----------------------------------------------------------------------------------


def test_billed_ms_and_item_size_as_aws_counts_them() -> None:
    aws = "REPORT RequestId: r\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB"
    assert billed_ms(aws) == 13
    assert billed_ms("REPORT RequestId: r\tDuration: 5.01 ms\tMemory Size: 128 MB") == 6
    # "orderID" (7) + 3 bytes, "n" (1) + 123 as a number (2 digits' pairs + 1 = 3)
    assert item_size({"orderID": {"S": "abc"}, "n": {"N": "123"}}) == 7 + 3 + 1 + 3


def test_test_order_measures_the_order_and_cost_uses_it(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, runner: CliRunner
) -> None:
    ctx = up_local(emulator, "measured", email="cost@example.com")
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    result = runner.invoke(cli, ["test-order", "--stack", "measured", "--measure", "--json"])
    assert result.exit_code == 0, result.output
    tested = json.loads(result.stdout)
    profile = tested["profile"]
    assert profile["measured_where"] == "pocctl local"
    # Each function's billed ms are its REPORT lines' for this order's invocations: Duration
    # rounded up to the ms (the emulator's lines carry no Billed Duration).
    names = ctx.config.names
    for function, key in ((names.writer_function, "writer"), (names.notifier_function, "notifier")):
        reports = reports_of(ctx, function, tested["order_id"])
        assert reports, function
        assert profile[f"{key}_billed_ms"] == sum(math.ceil(ms) for ms in reports)
    assert profile["item_bytes"] > len("orderID") and profile["log_bytes"] > 0
    # The emulator's REPORT lines carry no Init Duration: the shipped profile's INIT is kept.
    shipped = order_profile.shipped()
    assert (profile["writer_init_ms"], profile["notifier_init_ms"]) == (
        shipped.writer_init_ms,
        shipped.notifier_init_ms,
    )
    document = cost_json(runner, "--stack", "measured")
    assert document["profile"] == profile
    other = cost_json(runner, "--stack", "never-measured")
    assert other["profile"] == order_profile.shipped().as_json()


def reports_of(ctx: Context, function: str, order_id: str) -> list[float]:
    """The Duration of each REPORT line of the function's invocations whose lines name the order."""
    logs = ctx.client("logs")
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    ids: set[str] = set()
    current = ""
    for event in events:
        if event["message"].startswith("START RequestId: "):
            current = event["message"].split()[2]
        if order_id in event["message"]:
            ids.add(current)
    return [
        float(event["message"].split("\tDuration: ")[1].split(" ms")[0])
        for event in events
        if event["message"].startswith("REPORT RequestId: ") and event["message"].split()[2] in ids
    ]


@pytest.mark.slow  # heavy (tests/cases.py)
def test_up_and_ls_say_what_the_stack_costs_idle(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, runner: CliRunner
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    up = runner.invoke(cli, ["up", "--stack", "idle", "--json"])
    assert up.exit_code == 0, up.output
    idle = 657_000 * PRICES["sqs_request"] + 6 * PRICES["cloudwatch_alarm_month"]
    assert json.loads(up.stdout)["idle_monthly_cost"]["usd"] == pytest.approx(idle, abs=1e-4)
    shown = runner.invoke(cli, ["up", "--stack", "idle"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.count(f"Idle, this stack costs ${idle:.2f} a month at list price") == 1
    assert "left out: the table could not be read" not in shown.output  # up read the table
    listed = runner.invoke(cli, ["ls", "--json"])
    assert listed.exit_code == 0, listed.output
    (found,) = [s for s in json.loads(listed.stdout)["stacks"] if s["stack"] == "idle"]
    assert found["idle_monthly_usd"] == pytest.approx(round(idle, 2))
    table = runner.invoke(cli, ["ls"])
    assert "IDLE/MONTH" in table.output and f"${idle:.2f}" in table.output


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_stack_without_alarms_costs_their_price_less_idle(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, runner: CliRunner
) -> None:
    """`up --no-alarms` says so in its idle line, and `ls` counts each stack's own alarms."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    polls = 657_000 * PRICES["sqs_request"]
    alarms = 6 * PRICES["cloudwatch_alarm_month"]
    quiet = runner.invoke(cli, ["up", "--stack", "quiet", "--no-alarms", "--json"])
    assert quiet.exit_code == 0, quiet.output
    assert json.loads(quiet.stdout)["idle_monthly_cost"]["usd"] == pytest.approx(polls, abs=1e-4)
    loud = runner.invoke(cli, ["up", "--stack", "loud", "--json"])
    assert loud.exit_code == 0, loud.output
    listed = runner.invoke(cli, ["ls", "--json"])
    assert listed.exit_code == 0, listed.output
    idle = {s["stack"]: s["idle_monthly_usd"] for s in json.loads(listed.stdout)["stacks"]}
    assert idle["quiet"] == pytest.approx(round(polls, 2))
    assert idle["loud"] == pytest.approx(round(polls + alarms, 2))
