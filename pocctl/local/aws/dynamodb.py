"""DynamoDB tables: CREATING, UPDATING and DELETING take time, and the table says so meanwhile."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pocctl.core.arns import Arn
from pocctl.local.aws.base import Rules
from pocctl.local.calls import Call
from pocctl.local.replies import Reply, error, json_reply

DATA_PLANE = frozenset(
    {
        "PutItem",
        "GetItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchWriteItem",
        "BatchGetItem",
        "TransactWriteItems",
        "TransactGetItems",
    }
)
# ListTagsOfResource answers the tags as they were for a while (timing.py, table_tags).
RETAGS = frozenset({"TagResource", "UntagResource"})
NOT_DESCRIBED = "Requested resource not found: Table: {} not found"
IN_USE = "Attempt to change a resource which is still in use: Table is being {what}: {name}"


@dataclass
class TableTimes:
    creating_until: float = float("-inf")
    updating_until: float = float("-inf")
    described_from: float = float("-inf")  # DescribeTable finds it (timing.py, table_described)


@dataclass
class Ghost:
    """A deleted table, still answering as DELETING until its deletion finishes."""

    description: dict[str, Any]
    tags: list[dict[str, str]]
    until: float


class DynamoDbRules(Rules):
    services = ("dynamodb",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.tables: dict[tuple[str, str], TableTimes] = {}
        self.ghosts: dict[tuple[str, str], Ghost] = {}
        self._deleting: dict[tuple[str, str], tuple[dict[str, Any], list[dict[str, str]]]] = {}
        # A table's tags as ListTagsOfResource still answers them after a change, and until when.
        self.stale_tags: dict[str, tuple[list[dict[str, str]], float]] = {}
        self._retagging: dict[int, tuple[str, list[dict[str, str]]]] = {}

    def status(self, region: str, name: str) -> str | None:
        """CREATING, UPDATING or DELETING while that lasts; None when moto's answer stands."""
        now = self.world.clock()
        ghost = self.ghosts.get((region, name))
        if ghost is not None and now < ghost.until:
            return "DELETING"
        times = self.tables.get((region, name))
        if times is not None and now < times.creating_until:
            return "CREATING"
        if times is not None and now < times.updating_until:
            return "UPDATING"
        return None

    def _names(self, call: Call) -> list[str]:
        p = call.params
        if "TableName" in p:
            return [table_name(str(p["TableName"]))]
        if "RequestItems" in p:
            return [table_name(str(n)) for n in p["RequestItems"]]
        if "TransactItems" in p:
            return [
                table_name(str(body.get("TableName", "")))
                for item in p["TransactItems"]
                for body in item.values()
            ]
        return []

    def before(self, call: Call) -> Reply | None:
        if call.service != "dynamodb":
            return None
        for name in self._names(call):
            times = self.tables.get((call.region, name))
            if (
                call.operation == "DescribeTable"
                and not call.internal
                and times is not None
                and self.world.clock() < times.described_from
            ):
                return error(call, 400, "ResourceNotFoundException", NOT_DESCRIBED.format(name))
            status = self.status(call.region, name)
            if call.operation in DATA_PLANE and status in ("CREATING", "DELETING"):
                return error(call, 400, "ResourceNotFoundException", "Requested resource not found")
            if status == "DELETING":
                ghost = self.ghosts[(call.region, name)]
                if call.operation == "DescribeTable":
                    return json_reply(
                        200, {"Table": ghost.description}, "application/x-amz-json-1.0"
                    )
                if call.operation in ("CreateTable", "UpdateTable", "DeleteTable"):
                    what = IN_USE.format(what="deleted", name=name)
                    return error(call, 400, "ResourceInUseException", what)
            if status in ("CREATING", "UPDATING") and call.operation in (
                "UpdateTable",
                "DeleteTable",
            ):
                what = "created" if status == "CREATING" else "updated"
                return error(
                    call, 400, "ResourceInUseException", IN_USE.format(what=what, name=name)
                )
        if call.operation == "ListTagsOfResource":
            name = table_name(str(call.params.get("ResourceArn", "")))
            if self.status(call.region, name) == "DELETING":
                tags = self.ghosts[(call.region, name)].tags
                return json_reply(200, {"Tags": tags}, "application/x-amz-json-1.0")
        if call.operation == "ListTagsOfResource" and not call.internal:
            arn = str(call.params.get("ResourceArn", ""))
            stale = self.stale_tags.get(arn)
            if stale is not None and self.world.clock() < stale[1]:
                return json_reply(200, {"Tags": stale[0]}, "application/x-amz-json-1.0")
        if call.operation in RETAGS and self.world.timing.enabled and not call.internal:
            self._remember_tags(call)
        if call.operation == "DeleteTable" and self.world.timing.enabled:
            self._remember_before_delete(call)
        return None

    def _remember_tags(self, call: Call) -> None:
        arn = str(call.params.get("ResourceArn", ""))
        ddb = self.world.client("dynamodb", call.region)
        try:
            tags = ddb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])
        except Exception:
            return  # moto answers "not found" itself
        with self.world.lock:
            self._retagging[id(call)] = (arn, tags)

    def _remember_before_delete(self, call: Call) -> None:
        name = self._names(call)[0]
        ddb = self.world.client("dynamodb", call.region)
        try:
            table = ddb.describe_table(TableName=name)["Table"]
            tags = ddb.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags", [])
        except Exception:
            return  # moto answers "not found" itself
        with self.world.lock:
            self._deleting[(call.region, name)] = (table, tags)

    def after(self, call: Call, reply: Reply) -> Reply:
        if call.service != "dynamodb":
            return reply
        retagged = self._retagging.pop(id(call), None)
        if retagged is not None and reply.ok:
            self.stale_tags[retagged[0]] = (
                retagged[1],
                self.world.after("table_tags", table_name(retagged[0])),
            )
        names = self._names(call)
        key = (call.region, names[0]) if names else None
        if key is not None and call.operation == "DeleteTable":
            remembered = self._deleting.pop(key, None)
            if reply.ok and remembered is not None:
                description = copy.deepcopy(remembered[0])
                description["TableStatus"] = "DELETING"
                self.ghosts[key] = Ghost(
                    description, remembered[1], self.world.after("table_deleting", key[1])
                )
        if not reply.ok or (key is None and call.operation != "ListTables"):
            return reply
        if call.operation == "CreateTable" and key is not None:
            self.ghosts.pop(key, None)
            creating_until = self.world.after("table_creating", key[1])
            described_from = min(self.world.after("table_described", key[1]), creating_until)
            self.tables[key] = TableTimes(creating_until, described_from=described_from)
        elif call.operation == "UpdateTable" and key is not None:
            self.tables.setdefault(key, TableTimes()).updating_until = self.world.after(
                "table_updating", key[1]
            )
        document = reply.json()
        if not isinstance(document, dict):
            return reply
        if call.operation == "ListTables":
            ghosts = [n for (r, n) in self.ghosts if r == call.region and self.status(r, n)]
            document["TableNames"] = sorted({*document.get("TableNames", []), *ghosts})
            return reply.with_json(document)
        for field in ("Table", "TableDescription"):
            if field in document and key is not None:
                status = self.status(*key)
                if status is not None:
                    document[field]["TableStatus"] = status
        return reply.with_json(document)


def table_name(value: str) -> str:
    """A table named by its name or its ARN, as DynamoDB's TableName and ResourceArn take it
    (DynamoDB API Reference, e.g. GetItem: "You can also provide the Amazon Resource Name (ARN)
    of the table in this parameter")."""
    arn = Arn.of(value)
    return arn.name if arn is not None else value
