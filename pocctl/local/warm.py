"""Imported once by the fork server that starts `pocctl local`'s function workers: boto3, and
AWS's service models read, so that each worker skips both (about half a second of CPU each; a
Lambda runtime has boto3 installed and nothing here emulates its cold start)."""

from __future__ import annotations

from typing import Any

import boto3  # noqa: F401  (imported here so that every worker inherits it)
import botocore.session

SERVICES = ("dynamodb", "sns", "sqs")


def _loader() -> Any:
    session = botocore.session.Session()
    for service in SERVICES:
        session.create_client(
            service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
    return session.get_component("data_loader")


LOADER = _loader()
