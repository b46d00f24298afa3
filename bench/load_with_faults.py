"""1,000 orders through the offline pipeline while the emulator injects faults.

    python bench/load_with_faults.py [--count 1000] [--fail-rate 0.1] [--timeout-rate 0.05]

Starts `pocctl local` in-process, deploys a stack, shortens the functions' timeouts and the
queue's visibility timeout (so retries come within seconds), posts the orders, waits for the
pipeline to settle and accounts for every order. Prints one JSON document; exits 1 if any order
was lost, stored twice, or notified other than exactly once.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

import boto3

from pocctl.core.config import Config, Tuning
from pocctl.core.context import Context
from pocctl.core.reporting import RecordingReporter
from pocctl.local.emulator import Emulator
from pocctl.local.functions import Faults
from pocctl.local.loadtest import run_load
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps

EMAIL = "load@example.com"
FUNCTION_TIMEOUT = 2  # seconds; the product's is 10, shortened so injected timeouts cost less


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--fail-rate", type=float, default=0.10)
    parser.add_argument("--timeout-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    faults = Faults(fail_rate=args.fail_rate, timeout_rate=args.timeout_rate, seed=args.seed)
    with Emulator(port=0, faults=faults) as emulator:
        session = boto3.Session(
            aws_access_key_id="pocctl-local",
            aws_secret_access_key="pocctl-local",
            region_name="us-east-1",
        )
        config = Config(
            stack="bench",
            endpoint_url=emulator.endpoint_url,
            email=EMAIL,
            tuning=Tuning(throttle_rate=10_000, throttle_burst=5_000),
        )
        ctx = Context(config, RecordingReporter(), session=session)
        if not Engine(ctx, build_steps(config)).up().ok:
            print("up failed", file=sys.stderr)
            return 1
        lam, sqs = ctx.client("lambda"), ctx.client("sqs")
        for function in (config.names.writer_function, config.names.notifier_function):
            lam.update_function_configuration(FunctionName=function, Timeout=FUNCTION_TIMEOUT)
        url = sqs.get_queue_url(QueueName=config.names.queue)["QueueUrl"]
        visibility = str(6 * FUNCTION_TIMEOUT)  # 6x the function timeout, as `up` does
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": visibility})
        report = run_load(
            ctx, count=args.count, concurrency=args.concurrency, email=EMAIL, timeout=600
        )
    result = {
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "faults": {"fail_rate": args.fail_rate, "timeout_rate": args.timeout_rate},
        **report.summary(),
    }
    print(json.dumps(result, indent=2))
    return 1 if report.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
