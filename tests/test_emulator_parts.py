"""The emulator's parts on their own: event filters, mapping templates, pollers' failure rules."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from moto import mock_aws

from pocctl.local.apigw import message_attributes, request_ids
from pocctl.local.batch_responses import reported_failures
from pocctl.local.events import message_attributes as event_attributes
from pocctl.local.filters import OPERATORS, as_sqs_filtered, passes, valid_pattern
from pocctl.local.functions import Invocation
from pocctl.local.iam import ABSENT, Propagation, RoleSnapshot
from pocctl.local.pollers import Peek, SqsPoller, StreamPoller
from pocctl.local.vtl import TemplateError, json_path, render
from pocctl.resources.api import ACCEPTED_TEMPLATE, REQUEST_TEMPLATE

INSERT = {"eventName": "INSERT", "dynamodb": {"NewImage": {"item": {"S": "mop"}}}}
MODIFY = {"eventName": "MODIFY", "dynamodb": {"NewImage": {"item": {"S": "mop"}}}}


def criteria(*patterns: dict[str, Any]) -> dict[str, Any]:
    return {"Filters": [{"Pattern": json.dumps(p)} for p in patterns]}


# -- filters (Lambda event filtering) ---------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "record", "passed"),
    [
        ({"eventName": ["INSERT"]}, INSERT, True),
        ({"eventName": ["INSERT"]}, MODIFY, False),
        ({"eventName": ["INSERT", "MODIFY"]}, MODIFY, True),
        ({"eventName": [{"prefix": "INS"}]}, INSERT, True),
        ({"eventName": [{"anything-but": ["REMOVE"]}]}, MODIFY, True),
        ({"eventName": [{"anything-but": "MODIFY"}]}, MODIFY, False),
        ({"dynamodb": {"NewImage": {"item": {"S": ["mop"]}}}}, INSERT, True),
        ({"dynamodb": {"NewImage": {"item": {"S": ["broom"]}}}}, INSERT, False),
        ({"dynamodb": {"OldImage": [{"exists": False}]}}, INSERT, True),
        # "the Exists operator only works on leaf nodes" (Lambda guide, filter rule syntax)
        ({"dynamodb": {"NewImage": [{"exists": True}]}}, INSERT, False),
        ({"dynamodb": {"NewImage": {"item": {"S": [{"exists": True}]}}}}, INSERT, True),
        ({"userIdentity": [{"exists": True}]}, INSERT, False),
    ],
)
def test_filter_operators(pattern: dict[str, Any], record: dict[str, Any], passed: bool) -> None:
    assert passes(criteria(pattern), record) is passed


ORDER = {
    "item": "Mop.PNG",
    "count": 3,
    "note": None,
    "gift": "",
    "paid": True,
    "tags": ["a", "b"],
}
# Each operator Lambda accepts, and each form of it, with a record it matches and one it
# doesn't (Lambda Developer Guide, "Control which events Lambda sends to your function", filter
# rule syntax; pocctl/local/filters.py).
MATCHING = [
    ({"note": [None]}, {"note": "x"}),  # null
    ({"gift": [""]}, {"gift": "x"}),  # empty
    ({"item": ["Mop.PNG"]}, {"item": "mop.png"}),  # equals
    ({"count": [3]}, {"count": 3.5}),
    ({"count": [3]}, {"count": "3"}),  # a number is not its string
    ({"paid": [True]}, {"paid": 1}),
    ({"tags": ["b"]}, {"tags": ["c"]}),  # an array matches if one element does
    ({"item": [{"equals-ignore-case": "mop.png"}]}, {"item": "mop.jpg"}),
    ({"item": ["Broom", "Mop.PNG"]}, {"item": "Bucket"}),  # or
    ({"item": ["Mop.PNG"], "count": [3]}, {"item": "Mop.PNG", "count": 4}),  # and
    ({"$or": [{"item": ["Broom"]}, {"count": [3]}]}, {"item": "Mop", "count": 4}),
    ({"item": [{"anything-but": ["Broom"]}]}, {"item": "Broom"}),
    ({"item": [{"anything-but": "Broom"}]}, {"item": "Broom"}),
    ({"count": [{"anything-but": [4, 5]}]}, {"count": 4}),
    ({"item": [{"anything-but": ["Broom"]}]}, {}),  # a missing field is not "anything but"
    ({"count": [{"numeric": ["=", 3]}]}, {"count": 4}),
    ({"count": [{"numeric": [">", 2, "<=", 3]}]}, {"count": 2}),
    ({"count": [{"numeric": [">", 2]}]}, {"count": "3"}),
    ({"item": [{"exists": True}]}, {}),
    ({"coupon": [{"exists": False}]}, {"coupon": "x"}),
    ({"item": [{"prefix": "Mop"}]}, {"item": "mop.PNG"}),
    ({"item": [{"prefix": {"equals-ignore-case": "mOP"}}]}, {"item": "Broom"}),
    ({"item": [{"suffix": ".PNG"}]}, {"item": "Mop.png"}),
    ({"item": [{"suffix": {"equals-ignore-case": ".png"}}]}, {"item": "Mop.jpg"}),
    ({"tags": [{"prefix": "a"}]}, {"tags": [1]}),  # prefix matches strings only
]


@pytest.mark.parametrize(("pattern", "unmatched"), MATCHING)
def test_each_accepted_operator_matches_and_refuses_records(
    pattern: dict[str, Any], unmatched: dict[str, Any]
) -> None:
    assert valid_pattern(json.dumps(pattern))
    assert passes(criteria(pattern), ORDER)
    assert not passes(criteria(pattern), unmatched)


def test_every_operator_accepted_is_one_the_matcher_evaluates() -> None:
    used = {
        next(iter(r))
        for p, _ in MATCHING
        for rules in p.values()
        for r in rules
        if isinstance(r, dict) and "$or" not in p
    }
    assert used == set(OPERATORS)


@pytest.mark.parametrize(
    "rule",
    [
        {"prefix": 5},  # not a string
        {"suffix": ["x"]},
        {"prefix": {"equals-ignore-case": 5}},
        {"equals-ignore-case": ["x"]},
        {"exists": "yes"},
        {"numeric": [">", "5"]},
        {"anything-but": []},
        {"anything-but": {"prefix": "x"}},  # EventBridge: "Pipe support: No"
        {"anything-but": {"suffix": "x"}},
        {"anything-but": {"equals-ignore-case": "x"}},
        {"wildcard": "x*"},
        {"cidr": "10.0.0.0/24"},
        {"prefix": "x", "suffix": "y"},
    ],
)
def test_operators_lambda_does_not_support_or_malformed_are_refused(rule: Any) -> None:
    assert not valid_pattern(json.dumps({"item": [rule]}))


@pytest.mark.parametrize("alternatives", [[{"item": ["x"]}], {"item": ["x"]}, [{"item": "x"}, {}]])
def test_a_malformed_or_is_refused(alternatives: Any) -> None:
    assert not valid_pattern(json.dumps({"$or": alternatives}))


def test_an_sqs_record_is_filtered_on_its_body_as_json_or_as_text() -> None:
    as_json = as_sqs_filtered({"body": json.dumps({"kind": "order"})})
    assert passes(criteria({"body": {"kind": ["order"]}}), as_json)
    as_text = as_sqs_filtered({"body": "plain"})
    assert passes(criteria({"body": ["plain"]}), as_text)
    assert not passes(criteria({"body": {"kind": ["order"]}}), as_text)


def test_no_criteria_pass_everything_and_any_filter_may_match() -> None:
    assert passes(None, MODIFY)
    assert passes(criteria({"eventName": ["REMOVE"]}, {"eventName": ["MODIFY"]}), MODIFY)


@pytest.mark.parametrize(
    ("created", "passed"),
    [(1700000000, True), (1700000001.5, True), (1699999999, False), ("1700000000.0", False)],
)
def test_numeric_matching_takes_numbers_only(created: Any, passed: bool) -> None:
    record = {"dynamodb": {"ApproximateCreationDateTime": created}}
    rule = {"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">=", 1700000000]}]}}
    assert passes(criteria(rule), record) is passed


# -- mapping templates (API Gateway's VTL) -----------------------------------------------------
BODY = json.dumps({"item": "mop & bucket", "tags": ["a", "b"], "n": 2})


def test_input_and_util_as_api_gateway_documents_them() -> None:
    assert render("Action=SendMessage&MessageBody=$util.urlEncode($input.body)", BODY, {}) == (
        "Action=SendMessage&MessageBody=%7B%22item%22%3A+%22mop+%26+bucket%22%2C+%22tags"
        "%22%3A+%5B%22a%22%2C+%22b%22%5D%2C+%22n%22%3A+2%7D"
    )
    assert render("$input.path('$.tags[1]')", BODY, {}) == "b"
    assert render("$input.json('$.tags')", BODY, {}) == '["a", "b"]'
    assert render(
        "$util.escapeJavaScript($input.path('$.item'))", '{"item": "it\'s \\"x\\""}', {}
    ) == ('it\\\'s \\"x\\"')
    assert render("$util.base64Encode('hi')", "", {}) == "aGk="


def test_velocity_directives_and_context() -> None:
    template = "#set($n = $input.path('$.n'))#if($n > 1)many#{else}one#end $context.requestId"
    assert render(template, BODY, {"requestId": "r-1"}) == "many r-1"
    loop = "#foreach($t in $input.path('$.tags'))[$t]#end"
    assert render(loop, BODY, {}) == "[a][b]"


def test_request_ids_as_api_gateway_makes_them() -> None:
    ids = request_ids({})
    uuid.UUID(ids["requestId"])
    assert re.fullmatch(r"[A-Za-z0-9+/]{15}=", ids["extendedRequestId"])
    assert request_ids({})["extendedRequestId"] != ids["extendedRequestId"]
    chosen = request_ids({"x-amzn-requestid": "mine"})  # a client may set requestId, only it
    assert chosen["requestId"] == "mine" and chosen["extendedRequestId"] != "mine"


def test_the_order_id_rides_in_the_message_body() -> None:
    """pocctl's templates as the emulator renders them: the envelope the writer reads (the id
    the client gets, + / = included, and when the API took the order), and the answer."""
    context = {"extendedRequestId": "a+b/c=", "requestTimeEpoch": 1_700_000_000_000}
    order = '{"item": "mop & 100% = +"}'
    form = parse_qs(render(REQUEST_TEMPLATE, order, context))
    assert json.loads(form["MessageBody"][0]) == {
        "orderID": "a+b/c=",
        "receivedAt": 1_700_000_000_000,
        "order": {"item": "mop & 100% = +"},
    }
    assert json.loads(render(ACCEPTED_TEMPLATE, "{}", context)) == {"orderID": "a+b/c="}


def test_send_message_attributes_in_query_form_reach_the_function_in_lambdas_shape() -> None:
    form = parse_qs(
        "Action=SendMessage&MessageBody=x&MessageAttribute.1.Name=kind"
        "&MessageAttribute.1.Value.DataType=String&MessageAttribute.1.Value.StringValue=a%2Bb"
    )
    attributes = message_attributes(form)
    assert attributes == {"kind": {"DataType": "String", "StringValue": "a+b"}}
    assert isinstance(attributes, dict)
    assert event_attributes(attributes) == {
        "kind": {
            "stringValue": "a+b",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }
    incomplete = parse_qs("MessageAttribute.1.Name=kind&MessageAttribute.1.Value.DataType=S")
    assert message_attributes(incomplete) == (
        "The message attribute 'kind' must contain a type and a value."
    )


def test_json_path_subset_and_its_refusals() -> None:
    document = {"a": {"b": [{"c": 1}]}, "k y": 2}
    assert json_path(document, "$.a.b[0].c") == 1
    assert json_path(document, "$['k y']") == 2
    assert json_path(document, "$.missing.x") is None
    with pytest.raises(TemplateError):
        json_path(document, "$..c")


# -- pollers' failure rules ---------------------------------------------------------------
class Invoker:
    """Answers each invocation with the next scripted result; records the events."""

    def __init__(self, *answers: Invocation) -> None:
        self.answers = list(answers)
        self.events: list[dict[str, Any]] = []

    def invoke(self, region: str, name: str, event: dict[str, Any]) -> Invocation:
        self.events.append(event)
        return self.answers.pop(0) if self.answers else Invocation(True, result={})


class Sqs:
    def __init__(self) -> None:
        self.deleted: list[str] = []
        self.sent: list[dict[str, Any]] = []
        self.meta = type("Meta", (), {"endpoint_url": "http://local"})()

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> None:
        self.deleted += [e["ReceiptHandle"] for e in Entries]

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:
        self.sent.append(json.loads(MessageBody))


def sqs_poller(invoker: Invoker, sqs: Sqs, **settings: Any) -> SqsPoller:
    mapping = {
        "UUID": "u-1",
        "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:q",
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
        **settings,
    }
    return SqsPoller(mapping, invoker, lambda s, r: sqs, lambda m: None)  # type: ignore[arg-type]


MESSAGES = [{"MessageId": f"m{i}", "ReceiptHandle": f"h{i}", "Body": "{}"} for i in range(3)]


def test_sqs_partial_failure_deletes_only_what_succeeded() -> None:
    sqs = Sqs()
    failed = Invocation(True, result={"batchItemFailures": [{"itemIdentifier": "m1"}]})
    sqs_poller(Invoker(failed), sqs).deliver(sqs, "url", MESSAGES, partial=True)
    assert sqs.deleted == ["h0", "h2"]


def test_sqs_function_error_or_malformed_answer_returns_the_whole_batch() -> None:
    for answer in (
        Invocation(False, error_type="Error", error_message="boom"),
        Invocation(True, result={"batchItemFailures": [{"wrong": "m1"}]}),
    ):
        sqs = Sqs()
        sqs_poller(Invoker(answer), sqs).deliver(sqs, "url", MESSAGES, partial=True)
        assert sqs.deleted == []


def test_sqs_messages_no_filter_matches_are_deleted_without_invoking_the_function() -> None:
    """Lambda Developer Guide, "Control which events Lambda sends to your function", "Handling
    records that don't meet filter criteria": "For Amazon SQS, if a message doesn't satisfy
    your filter criteria, Lambda automatically removes the message from the queue." """
    sqs, invoker = Sqs(), Invoker(Invocation(True, result={}))
    messages = [
        {"MessageId": "m0", "ReceiptHandle": "h0", "Body": json.dumps({"kind": "order"})},
        {"MessageId": "m1", "ReceiptHandle": "h1", "Body": json.dumps({"kind": "ping"})},
        {"MessageId": "m2", "ReceiptHandle": "h2", "Body": "not json"},
    ]
    poller = sqs_poller(invoker, sqs, FilterCriteria=criteria({"body": {"kind": ["order"]}}))
    poller.deliver(sqs, "url", messages, partial=False)
    assert [[r["messageId"] for r in e["Records"]] for e in invoker.events] == [["m0"]]
    assert sorted(sqs.deleted) == ["h0", "h1", "h2"]

    sqs, invoker = Sqs(), Invoker()
    none_wanted = sqs_poller(invoker, sqs, FilterCriteria=criteria({"body": ["other"]}))
    none_wanted.deliver(sqs, "url", messages, partial=False)
    assert invoker.events == [] and sorted(sqs.deleted) == ["h0", "h1", "h2"]


def test_sqs_a_filtered_out_message_is_deleted_even_when_the_function_fails() -> None:
    sqs = Sqs()
    messages = [
        {"MessageId": "m0", "ReceiptHandle": "h0", "Body": "wanted"},
        {"MessageId": "m1", "ReceiptHandle": "h1", "Body": "unwanted"},
    ]
    poller = sqs_poller(Invoker(FAIL), sqs, FilterCriteria=criteria({"body": ["wanted"]}))
    poller.deliver(sqs, "url", messages, partial=False)
    assert sqs.deleted == ["h1"]  # the wanted one comes back after its visibility timeout


# Lambda Developer Guide, "Handling errors for an SQS event source in Lambda", "Success and
# failure conditions" (pocctl/local/batch_responses.py), and what AWS recorded as success in
# localstack/localstack's test_dynamodb_report_batch_item_success_scenarios.
@pytest.mark.parametrize(
    "response", [[], None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}]
)
def test_an_empty_or_null_response_or_list_is_a_complete_success(response: Any) -> None:
    assert reported_failures(response, ["m1"]) == []


@pytest.mark.parametrize(
    "response", [[], None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}]
)
def test_a_stream_batch_answered_with_a_success_is_not_retried(response: Any) -> None:
    sqs, invoker = Sqs(), Invoker(Invocation(True, result=response))
    stream_poller(invoker, sqs, retries=2, bisect=False).process(RECORDS, "shard-1")
    assert len(invoker.events) == 1
    assert sqs.sent == []


@pytest.mark.parametrize(
    "response",
    [
        "nonsense",  # not a JSON object
        ["m1"],
        {"batchItemFailures": "m1"},
        {"batchItemFailures": ["m1"]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},  # an empty string itemIdentifier
        {"batchItemFailures": [{"itemIdentifier": None}]},  # a null itemIdentifier
        {"batchItemFailures": [{"ItemIdentifier": "m1"}]},  # a bad key name
        {"batchItemFailures": [{"itemIdentifier": "m9"}]},  # a message ID not in the batch
        {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m9"}]},
        {"batchItemFailures": [{"itemIdentifier": 1}]},  # not a string
    ],
)
def test_an_invalid_response_fails_the_whole_batch(response: Any) -> None:
    assert reported_failures(response, ["m1", "m2"]) is None


def test_valid_identifiers_are_the_failures() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "m2"}], "other": 1}
    assert reported_failures(response, ["m1", "m2"]) == ["m2"]


@pytest.mark.parametrize(
    "identifier",
    ["", None, "not-a-message-of-this-batch", "h1"],  # h1: a receipt handle
)
def test_sqs_a_response_naming_no_message_of_the_batch_deletes_nothing(identifier: Any) -> None:
    sqs = Sqs()
    answer = Invocation(True, result={"batchItemFailures": [{"itemIdentifier": identifier}]})
    sqs_poller(Invoker(answer), sqs).deliver(sqs, "url", MESSAGES, partial=True)
    assert sqs.deleted == []


def test_sqs_without_report_batch_item_failures_the_response_is_not_read() -> None:
    sqs = Sqs()
    answer = Invocation(True, result={"batchItemFailures": [{"itemIdentifier": None}]})
    sqs_poller(Invoker(answer), sqs).deliver(sqs, "url", MESSAGES, partial=False)
    assert sqs.deleted == ["h0", "h1", "h2"]


def stream_poller(invoker: Invoker, sqs: Sqs, retries: int, bisect: bool) -> StreamPoller:
    mapping = {
        "UUID": "u-2",
        "EventSourceArn": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/s",
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "MaximumRetryAttempts": retries,
        "BisectBatchOnFunctionError": bisect,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {
            "OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:failures"}
        },
    }
    poller = StreamPoller(mapping, invoker, lambda s, r: sqs, lambda m: None, {}, lambda u: None)  # type: ignore[arg-type]
    poller.stopped.wait = lambda seconds=None: False  # type: ignore[method-assign]
    return poller


RECORDS = [{"dynamodb": {"SequenceNumber": str(n)}} for n in (10, 20, 30, 40)]
FAIL = Invocation(False, error_type="Error", error_message="boom")


def test_stream_retries_then_sends_the_batch_to_its_destination() -> None:
    sqs, invoker = Sqs(), Invoker(FAIL, FAIL, FAIL)
    stream_poller(invoker, sqs, retries=2, bisect=False).process(RECORDS, "shard-1")
    assert len(invoker.events) == 3  # the first try and two retries
    (info,) = sqs.sent
    assert info["DDBStreamBatchInfo"]["startSequenceNumber"] == "10"
    assert info["DDBStreamBatchInfo"]["batchSize"] == 4
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_stream_bisects_a_failing_batch_and_isolates_the_bad_record() -> None:
    sqs = Sqs()

    class OneBadRecord(Invoker):
        def invoke(self, region: str, name: str, event: dict[str, Any]) -> Invocation:
            self.events.append(event)
            sequences = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
            return FAIL if "30" in sequences else Invocation(True, result={})

    invoker = OneBadRecord()
    stream_poller(invoker, sqs, retries=0, bisect=True).process(RECORDS, "shard-1")
    assert [i["DDBStreamBatchInfo"]["startSequenceNumber"] for i in sqs.sent] == ["30"]
    delivered = [[r["dynamodb"]["SequenceNumber"] for r in e["Records"]] for e in invoker.events]
    assert ["10", "20"] in delivered and ["40"] in delivered


# What AWS recorded as failing the whole batch (localstack/localstack,
# test_dynamodb_report_batch_item_failure_scenarios), and an identifier naming no record.
@pytest.mark.parametrize(
    "failures",
    [
        [{"itemIdentifier": "99"}],
        [{"itemIdentifier": 123}],
        [{"itemIdentifier": ""}],
        [{"itemIdentifier": None}],
        [{"foo": 123}],
        [{"foo": None}],
    ],
)
def test_stream_an_invalid_partial_response_retries_the_whole_batch_then_gives_it_up(
    failures: list[dict[str, Any]],
) -> None:
    sqs = Sqs()
    unknown = Invocation(True, result={"batchItemFailures": failures})
    invoker = Invoker(unknown, unknown, unknown)
    stream_poller(invoker, sqs, retries=2, bisect=False).process(RECORDS, "shard-1")
    delivered = [[r["dynamodb"]["SequenceNumber"] for r in e["Records"]] for e in invoker.events]
    assert delivered == [["10", "20", "30", "40"]] * 3
    (info,) = sqs.sent
    assert info["DDBStreamBatchInfo"]["batchSize"] == 4
    # AWS keeps the key, null, when the function did not fail (the same recordings)
    assert "functionError" in info["responseContext"]
    assert info["responseContext"]["functionError"] is None


def test_stream_partial_failure_retries_from_the_first_failed_record() -> None:
    sqs = Sqs()
    partial = Invocation(True, result={"batchItemFailures": [{"itemIdentifier": "30"}]})
    invoker = Invoker(partial, Invocation(True, result={}))
    stream_poller(invoker, sqs, retries=3, bisect=False).process(RECORDS, "shard-1")
    second = [r["dynamodb"]["SequenceNumber"] for r in invoker.events[1]["Records"]]
    assert second == ["30", "40"]
    assert sqs.sent == []


def test_a_creation_time_floor_filter_matches_from_its_second_on_either_way_it_is_written() -> None:
    from pocctl.resources.mappings import inserts_since

    floor = inserts_since(1764650000)
    # A pattern holds at most 4096 characters (AWS::Lambda::EventSourceMapping Filter, Pattern).
    assert all(len(f["Pattern"]) <= 4096 for f in floor["Filters"])

    def record(created: Any) -> dict[str, Any]:
        return {"eventName": "INSERT", "dynamodb": {"ApproximateCreationDateTime": created}}

    for created, passed in [
        (1764650000, True),
        (1764650001, True),
        (1799999999, True),
        (1764649999, False),
        (1700000000, False),
    ]:
        assert passes(floor, record(created)) is passed
        assert passes(floor, record(f"{created}.0")) is passed
    assert not passes(floor, {**record(1764650001), "eventName": "MODIFY"})


class StoppedDuringTheLongPoll:
    """SQS (moto's) as a poller sees it when its mapping is deleted or disabled (`replaced`
    False), or changed (True), during its long poll: the poll returns a batch to a poller
    already retired."""

    def __init__(self, sqs: Any, replaced: bool) -> None:
        self.sqs, self.replaced = sqs, replaced
        self.meta = sqs.meta
        self.poller: SqsPoller | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        assert self.poller is not None
        self.poller.stop(replaced=self.replaced)
        return dict(self.sqs.receive_message(**{**kwargs, "WaitTimeSeconds": 0}))


class SomethingWaits(Peek):
    def messages_waiting(self, account: str, region: str, queue: str, wait: int) -> bool | None:
        return None


@pytest.mark.parametrize("replaced", [True, False])
def test_a_batch_read_as_the_poller_is_retired_is_delivered_only_if_the_mapping_remains(
    replaced: bool,
) -> None:
    """Changed settings: the batch already read goes to the function with the old ones, as
    Lambda does with a batch. Deleted or disabled: what Lambda does is undocumented, so the
    messages stay invisible until their visibility timeout (nothing hands them back early)."""
    with mock_aws():
        real = boto3.client("sqs", region_name="us-east-1")
        url = real.create_queue(QueueName="q")["QueueUrl"]
        for n in range(3):
            real.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
        sqs, invoker = StoppedDuringTheLongPoll(real, replaced), Invoker()
        poller = SqsPoller(
            {
                "UUID": "u-1",
                "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:q",
                "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            },
            invoker,  # type: ignore[arg-type]
            lambda s, r: sqs,
            lambda m: None,
            SomethingWaits(),
        )
        sqs.poller = poller
        poller.poll()  # returns once stopped, its deliveries done
        attributes = real.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    counts = (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )
    if replaced:
        assert [len(e["Records"]) for e in invoker.events] == [3]
        assert counts == (0, 0)  # delivered and deleted
    else:
        assert invoker.events == []
        assert counts == (0, 3)  # invisible until their visibility timeout


def test_two_invocations_unpacking_the_same_code_at_once_both_run_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two first invocations of one function may unpack its code side by side: the second's
    rename onto the directory the first made fails (not empty). It uses the first's (CI saw
    `lambda:Invoke failed` with "Directory not empty" under four test workers)."""
    import io
    import zipfile
    from pathlib import Path

    from pocctl.local import functions
    from pocctl.local.functions import FunctionVersion
    from pocctl.local.functions import Invoker as LocalInvoker

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    code = buffer.getvalue()
    invoker = LocalInvoker("http://127.0.0.1:1", "123456789012", lambda role: {})
    version = FunctionVersion(
        "f", "us-east-1", "123456789012", "app.handler", 3, 128, "arn:aws:iam::1:role/r",
        "sha", (), "/aws/lambda/f",
    )  # fmt: skip
    real_replace = functions.os.replace

    def the_other_came_first(source: str | Path, target: str | Path) -> None:
        real_replace(invoker.code_root / "elsewhere", target)
        real_replace(source, target)  # the loser's rename: Directory not empty

    elsewhere = invoker.code_root / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "app.py").write_text("def handler(event, context):\n    return 1\n")
    monkeypatch.setattr(functions.os, "replace", the_other_came_first)
    unpacked = invoker._code_dir(version, code)
    assert (unpacked / "app.py").read_text().startswith("def handler")
    assert sorted(p.name for p in invoker.code_root.iterdir()) == ["sha"]  # no staging left


def test_a_policy_version_made_while_an_attach_is_being_read_reaches_that_principal() -> None:
    """CreatePolicyVersion lands while the emulator reads a role an AttachRolePolicy just
    changed, with the old version: the role is read again after that read is recorded, so it
    ends on the new version, as IAM does once it has propagated."""
    version = {"now": 1}
    reading = threading.Event()
    go_on = threading.Event()

    def read(arn: str) -> RoleSnapshot:
        seen = version["now"]
        if not reading.is_set():  # the attach's read: it saw version 1, and is slow to finish
            reading.set()
            assert go_on.wait(5)
        return RoleSnapshot(True, statements=({"Sid": f"v{seen}"},), attached=frozenset({"P"}))

    propagation = Propagation(read, delay=lambda key: 0.0, clock=time.monotonic)
    attach = threading.Thread(target=propagation.changed, args=("R",))
    attach.start()
    assert reading.wait(5)
    version["now"] = 2
    propagation.all_changed("P")  # R's record does not show P yet: only the read under way does
    go_on.set()
    attach.join(5)
    assert propagation.effective("R").statements == ({"Sid": "v2"},)


def test_a_read_that_ends_after_a_later_one_is_not_recorded_over_it() -> None:
    """A read that saw the role just before DeleteRole ends after DeleteRole's own read: the
    role is gone, as IAM has it, not there again."""
    first_read = threading.Event()
    go_on = threading.Event()
    reads = iter([RoleSnapshot(True, attached=frozenset({"P"})), ABSENT])

    def read(arn: str) -> RoleSnapshot:
        snapshot = next(reads)
        if not first_read.is_set():  # the earlier read, slow to end
            first_read.set()
            assert go_on.wait(5)
        return snapshot

    propagation = Propagation(read, delay=lambda key: 0.0, clock=time.monotonic)
    earlier = threading.Thread(target=propagation.changed, args=("R",))
    earlier.start()
    assert first_read.wait(5)
    propagation.changed("R")  # DeleteRole's read: ends first
    go_on.set()
    earlier.join(5)
    assert not earlier.is_alive()
    assert propagation.effective("R") == ABSENT
