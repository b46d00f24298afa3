"""test-order's diagnostics find the newest error, however many log events came before it."""

from __future__ import annotations

import time

from pocctl.core.context import Context
from pocctl.resources.logs import last_error


def test_last_error_reads_every_page_up_to_the_newest_event(ctx: Context) -> None:
    logs = ctx.client("logs")
    group = "/aws/lambda/POC-Lambda-1"
    logs.create_log_group(logGroupName=group)
    now = int(time.time() * 1000)
    logs.create_log_stream(logGroupName=group, logStreamName="a")
    old_error = [{"timestamp": now - 60_000, "message": '{"event": "order_failed", "n": "old"}'}]
    noise = [
        {"timestamp": now - 50_000 + i, "message": "START RequestId: x"} for i in range(10_000)
    ]
    logs.put_log_events(logGroupName=group, logStreamName="a", logEvents=old_error + noise[:9_999])
    logs.create_log_stream(logGroupName=group, logStreamName="b")
    newest = {"timestamp": now - 1_000, "message": '{"event": "order_too_large", "n": "new"}'}
    logs.put_log_events(logGroupName=group, logStreamName="b", logEvents=[newest])
    assert last_error(ctx, "POC-Lambda-1") == newest["message"]
