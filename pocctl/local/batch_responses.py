"""What a function's partial batch response (ReportBatchItemFailures) tells Lambda's poller.

Lambda Developer Guide, "Handling errors for an SQS event source in Lambda" (formerly "Using
Lambda with Amazon SQS", "Reporting batch item failures"), "Success and failure conditions":
a batch is a complete success if the function returns an empty or null `batchItemFailures`
list, or an empty or null response; a complete failure if it returns "an invalid JSON response",
"an empty string itemIdentifier", "a null itemIdentifier", "an itemIdentifier with a bad key
name" or "an itemIdentifier value with a message ID that doesn't exist". The guide's page for
streams ("Configuring partial batch response with DynamoDB and Lambda", same heading) lists the
first four; what an identifier that names no record of the batch does there is undocumented
(emulators disagree: floci-io/floci#3466 fails the batch, faiscadev/fakecloud#1073 ignores it),
so it is acted out as SQS's rule: the whole batch is retried and nothing is checkpointed past a
record the function may not have handled (the answer that loses nothing).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any


def reported_failures(response: Any, batch: Collection[str]) -> list[str] | None:
    """The identifiers (message IDs, or sequence numbers) of `batch` the response names as
    failed; [] when it reports none; None when the response fails the whole batch."""
    # An empty list is a success too: recorded against AWS for a stream mapping in
    # localstack/localstack, tests/aws/services/lambda_/event_source_mapping/
    # test_lambda_integration_dynamodbstreams.py, test_dynamodb_report_batch_item_success_scenarios
    # ([], None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}; the Kinesis test
    # records the same), and for SQS it is "an empty ... response" in the guide's words.
    if response is None or response == {} or response == []:
        return []
    if not isinstance(response, dict):
        return None  # not a JSON object: no batchItemFailures can be read from it
    failures = response.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        return None
    named = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        # A number is not an identifier: message IDs and sequence numbers are strings, and a
        # large sequence number would not survive a JSON number in most runtimes.
        if not isinstance(identifier, str) or identifier not in batch:
            return None
        named.append(identifier)
    return named
