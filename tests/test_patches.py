"""pocctl local patches moto internals: a moto without them is refused with a clear message."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from pocctl.local import patches

from .threads import ask_meanwhile


def test_the_pinned_moto_has_everything_we_patch() -> None:
    patches.check()


def test_a_moto_without_what_we_patch_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models.table import StreamShard

    monkeypatch.delattr(StreamShard, "add")
    with pytest.raises(patches.EmulatorUnavailable) as caught:
        patches.check()
    assert "lacks what pocctl local patches (StreamShard.add)" in str(caught.value)
    assert f"pip install 'moto[server]=={patches.PINNED_MOTO}'" in str(caught.value)


def test_a_moto_that_reads_its_models_otherwise_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core import utils as moto_utils

    monkeypatch.delattr(moto_utils, "_load_service_model")
    with pytest.raises(
        patches.EmulatorUnavailable, match=re.escape("core.utils._load_service_model")
    ):
        patches.check()


def test_another_account_for_moto_is_refused_saying_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "111122223333")
    with pytest.raises(patches.EmulatorUnavailable, match="unset MOTO_ACCOUNT_ID"):
        patches.check()
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "")  # moto files requests under "" then
    with pytest.raises(patches.EmulatorUnavailable, match="unset MOTO_ACCOUNT_ID"):
        patches.check()
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "123456789012")
    patches.check()


def test_the_pin_in_pyproject_matches_the_checked_version() -> None:
    from pathlib import Path

    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    local = pyproject.split("local = [", 1)[1].split("]\n", 1)[0]
    assert re.search(rf'"moto\[[a-z0-9,]+\]=={re.escape(patches.PINNED_MOTO)}"', local)


def test_another_moto_version_is_refused_at_start_saying_which_to_install() -> None:
    with pytest.raises(patches.EmulatorUnavailable) as caught:
        patches.check(installed="5.3.0")
    message = str(caught.value)
    assert "pocctl local runs on moto 5.2.5, and moto 5.3.0 is installed" in message
    assert "pip install 'moto[server]==5.2.5'" in message


def test_an_in_process_emulator_gives_moto_back_and_leaves_no_temporary_files() -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.sns.models import Subscription

    from pocctl.local.emulator import Emulator

    original = (
        LambdaBackend.create_event_source_mapping,
        Subscription.publish,
        Subscription.private_key,
    )
    with Emulator(port=0) as emulator:
        assert LambdaBackend.create_event_source_mapping is not original[0]
        assert emulator.invoker is not None
        code_root = emulator.invoker.code_root
        assert code_root.is_dir()
    assert (
        LambdaBackend.create_event_source_mapping,
        Subscription.publish,
        Subscription.private_key,
    ) == original
    assert not code_root.exists()


def test_the_pin_in_pyproject_matches_the_installed_moto() -> None:
    from importlib.metadata import version

    assert version("moto") == patches.PINNED_MOTO


def raced(change: Callable[[], None], read: Callable[[], None]) -> list[BaseException]:
    """What `read`, called again and again while `change` runs in another thread, raised
    (moto's own "not found" aside): the finding of a race on one of moto's dicts."""
    errors: list[BaseException] = []
    reading, changed = threading.Event(), threading.Event()

    def changing() -> None:
        reading.wait()
        try:
            change()
        finally:
            changed.set()

    def reading_again() -> None:
        while not changed.is_set():
            try:
                read()
            except Exception as exc:
                if "not found" not in str(exc).lower() and "cannot be found" not in str(exc):
                    errors.append(exc)
                    changed.set()
            reading.set()

    threads = [threading.Thread(target=reading_again), threading.Thread(target=changing)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_roles_can_be_read_while_others_are_created() -> None:
    """Steps run side by side: a writer's CreateFunction looks its role up while the notifier's
    role is created. moto's lookup looped over the live dict of roles and failed with
    "dictionary changed size during iteration" (seen in CI); conftest prepares moto as
    `pocctl local` does."""
    from moto import mock_aws
    from moto.iam.models import iam_backends

    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    with mock_aws():
        iam = iam_backends["123456789012"]["global"]

        def create() -> None:
            for n in range(2000):
                iam.create_role(f"role-{n}", trust, "/", None, "", [], None)

        # get_role makes a whole pass over the roles each time
        assert raced(create, lambda: iam.get_role("not-there")) == []


def test_alarms_can_be_described_while_others_are_deleted() -> None:
    """`down` deletes the stack's alarms side by side and reads them back meanwhile; moto's
    DescribeAlarms looped over the live dict of alarms and failed with "dictionary changed size
    during iteration" (seen in CI)."""
    from moto import mock_aws
    from moto.cloudwatch.models import cloudwatch_backends

    with mock_aws():
        cloudwatch = cloudwatch_backends["123456789012"]["us-east-1"]
        cloudwatch.alarms.update({f"alarm-{n}": SimpleNamespace(name="") for n in range(5_000)})

        def delete() -> None:
            for n in range(5_000):
                cloudwatch.delete_alarms([f"alarm-{n}"])

        # DescribeAlarms(AlarmNames=...) loops over them all
        assert raced(delete, lambda: cloudwatch.get_alarms_by_alarm_names(["not-there"])) == []


def test_a_second_emulator_beside_a_running_one_is_refused_and_wipes_nothing() -> None:
    """moto's state is the process's: a second emulator would wipe the running one's resources
    under its pollers (a stream iterator moto no longer knew), or poll its mappings a second
    time. It is refused, and so is none after one whose start failed."""
    from pocctl.local.aws.timing import Timing
    from pocctl.local.emulator import Emulator

    from .clocked import client

    off = Timing(enabled=False)
    with Emulator(port=0, timing=off) as first:
        sqs = client(first, "sqs")
        sqs.create_queue(QueueName="kept")
        with pytest.raises(RuntimeError, match="another pocctl local is running"):
            Emulator(port=0, timing=off).start()
        assert sqs.get_queue_url(QueueName="kept")["QueueUrl"].endswith("/kept")
    with socket.create_server(("127.0.0.1", 0)) as listening, pytest.raises(OSError):
        Emulator(port=listening.getsockname()[1], timing=off).start()  # the port is taken
    assert Emulator.running == set()
    with Emulator(port=0, timing=off):  # one that failed to start holds no place
        pass


def test_in_process_moto_and_an_emulator_never_run_at_the_same_time() -> None:
    """The suite refuses either beside the other (conftest): each wipes the other's state."""
    from moto import mock_aws

    from pocctl.local.aws.timing import Timing
    from pocctl.local.emulator import Emulator

    with Emulator(port=0, timing=Timing(enabled=False)), pytest.raises(RuntimeError, match="wipe"):
        mock_aws().start()
    with mock_aws(), pytest.raises(RuntimeError, match="wipe"):
        Emulator(port=0).start()


def new_table(backend: Any, name: str, streams: dict[str, Any] | None) -> Any:
    """A table keyed by `k`, made in moto's backend directly."""
    return backend.create_table(
        name,
        schema=[{"AttributeName": "k", "KeyType": "HASH"}],
        attr=[{"AttributeName": "k", "AttributeType": "S"}],
        throughput=None,
        billing_mode="PAY_PER_REQUEST",
        indexes=None,
        global_indexes=None,
        streams=streams,
        sse_specification=None,
        tags=[],
        deletion_protection_enabled=None,
        warm_throughput=None,
    )


def stream_sequence_numbers(patched: bool) -> list[int]:
    """The sequence numbers of 4,000 stream records added by 8 threads at once to one table's
    stream, as concurrent PutItem calls add them in `pocctl local`."""
    from moto import mock_aws
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    with mock_aws():
        if patched:
            patches.apply()
        try:
            streamed = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
            table = new_table(dynamodb_backends["123456789012"]["us-east-1"], "streamed", streamed)
            start = threading.Barrier(8)

            def add(thread: int) -> None:
                start.wait()
                for n in range(500):
                    key = {"S": f"{thread}-{n}"}
                    table.stream_shard.add(None, Item(DynamoType(key), None, {"k": key}))

            threads = [threading.Thread(target=add, args=(t,)) for t in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return [
                int(r.to_json()["dynamodb"]["SequenceNumber"]) for r in table.stream_shard.items
            ]
        finally:
            if patched:
                patches.undo()


def test_stream_records_written_at_once_get_a_sequence_number_each() -> None:
    """moto numbered a record by the shard's length, then appended it: two items written at once
    got the same number, and a reader after one of them read a record twice (the soak counted
    one order's INSERT twice under load)."""
    numbers = stream_sequence_numbers(patched=True)
    assert len(numbers) == 4_000
    assert len(set(numbers)) == 4_000


def counted_at_once(patched: bool) -> int:
    """A counter 8 threads each add 1 to 500 times (UpdateItem ADD), as concurrent calls do in
    `pocctl local`."""
    from moto import mock_aws
    from moto.dynamodb.models import dynamodb_backends

    with mock_aws():
        if patched:
            patches.apply()
        try:
            backend = dynamodb_backends["123456789012"]["us-east-1"]
            new_table(backend, "counted", None)
            start = threading.Barrier(8)
            key = {"k": {"S": "counter"}}

            def add() -> None:
                start.wait()
                for _ in range(500):
                    backend.update_item("counted", key, "ADD n :one", {}, {":one": {"N": "1"}})

            threads = [threading.Thread(target=add) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return int(backend.get_item("counted", key).attrs["n"].value)
        finally:
            if patched:
                patches.undo()


def test_writes_to_one_item_at_once_are_each_applied_as_dynamodb_applies_them() -> None:
    """moto read the item, then wrote it: concurrent ADDs were lost, and two conditional puts of
    one key could both succeed, where DynamoDB's conditional writes and counters are atomic."""
    assert counted_at_once(patched=True) == 4_000


def stream_of_writes(patched: bool) -> list[tuple[str, dict[str, Any]]]:
    """The stream records (event, new image) of a table's item created by UpdateItem, updated
    to what it is, changed, put as it is, then deleted."""
    with dynamodb_in_moto(patched) as backend:
        streams = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        table = new_table(backend, "written", streams)
        key = {"k": {"S": "a"}}
        for value in ("x", "x", "y"):
            backend.update_item("written", key, "SET v = :v", {}, {":v": {"S": value}})
        backend.put_item("written", {"k": {"S": "a"}, "v": {"S": "y"}})
        tagged = {"n": {"N": "1"}, "s": {"SS": ["a", "b"]}}
        backend.put_item("written", {**key, "v": {"S": "y"}, **tagged})
        spelled_otherwise = {"n": {"N": "1.0"}, "s": {"SS": ["b", "a"]}}
        backend.put_item("written", {**key, "v": {"S": "y"}, **spelled_otherwise})
        backend.delete_item("written", key)
        records = [record.to_json() for record in table.stream_shard.items]
        return [(r["eventName"], r["dynamodb"].get("NewImage", {})) for r in records]


@contextmanager
def dynamodb_in_moto(patched: bool) -> Iterator[Any]:
    """moto's DynamoDB backend, in process, with pocctl local's patches or without."""
    from moto import mock_aws
    from moto.dynamodb.models import dynamodb_backends

    with mock_aws():
        if patched:
            patches.apply()
        try:
            yield dynamodb_backends["123456789012"]["us-east-1"]
        finally:
            if patched:
                patches.undo()


def test_each_write_that_changes_an_item_is_one_stream_record() -> None:
    """moto wrote two INSERTs for an UpdateItem that creates its item (the bare key, then the
    item), and a MODIFY for writes that changed nothing; DynamoDB Streams writes one record per
    change, and none for a write that changes no data."""
    assert stream_of_writes(patched=True) == [
        ("INSERT", {"k": {"S": "a"}, "v": {"S": "x"}}),
        ("MODIFY", {"k": {"S": "a"}, "v": {"S": "y"}}),
        ("MODIFY", {"k": {"S": "a"}, "v": {"S": "y"}, "n": {"N": "1"}, "s": {"SS": ["a", "b"]}}),
        ("REMOVE", {}),
    ]
    assert len(stream_of_writes(patched=False)) == 8  # two INSERTs, five MODIFYs, a REMOVE


def test_an_update_too_large_to_create_its_item_leaves_no_item() -> None:
    """moto put the bare key, then found the update too large: the key stayed in the table
    (with no stream record since one_record_per_update); DynamoDB stores nothing."""
    from moto.dynamodb.exceptions import ItemSizeToUpdateTooLarge

    with dynamodb_in_moto(patched=True) as backend:
        table = new_table(backend, "sized", {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
        key = {"k": {"S": "big"}}
        with pytest.raises(ItemSizeToUpdateTooLarge):
            backend.update_item("sized", key, "SET v = :v", {}, {":v": {"S": "x" * 500_000}})
        assert backend.get_item("sized", key) is None
        assert table.stream_shard.items == []


def test_a_model_that_requests_side_by_side_need_is_read_once() -> None:
    """A stack's first requests come side by side, and moto read a service's model for each
    of them (CloudWatch's six times as `up` began): the second waits for the first's."""
    from moto.core import utils as moto_utils

    assert getattr(moto_utils._load_service_model, "pocctl_once", False)  # conftest prepared it
    reads: list[tuple[str, str]] = []
    second_read = threading.Event()
    answers: list[Any] = []

    def load(service_name: str, model_name: str) -> dict[str, Any]:
        reads.append((service_name, model_name))
        if len(reads) == 1:  # the first reader: the second asks meanwhile
            ask_meanwhile(asker, second_read, moto_utils._load_service_model.__code__.co_name)
        else:
            second_read.set()
        return {"read": len(reads)}

    once = patches._read_once(load)
    asker = threading.Thread(target=lambda: answers.append(once("cloudwatch", "service-2")))
    first = once("cloudwatch", "service-2")
    asker.join()
    assert reads == [("cloudwatch", "service-2")]
    assert answers == [first]
    assert once("cloudwatch", "paginators-1") == {"read": 2}  # another model is read apart


def moto_response_classes() -> list[type]:
    """The response classes of every service the stack and its tools call."""
    import importlib

    from moto.core.responses import BaseResponse

    found: list[type] = []
    for service in patches.SERVED:
        package = {"lambda": "awslambda"}.get(service, service)
        module = importlib.import_module(f"moto.{package}.responses")
        found += [
            cls
            for cls in vars(module).values()
            if isinstance(cls, type)
            and issubclass(cls, BaseResponse)
            and cls.__module__ == module.__name__
        ]
    assert len(found) >= len(patches.SERVED)
    return found


def test_moto_asks_for_the_one_action_and_is_answered_as_its_listing_would() -> None:
    """moto listed every attribute of a response class (inspect.getmembers) to ask whether the
    action is one of its functions, on every request. Asked for the one name, the answer is the
    listing's, for each name any of the classes has and for names none has."""
    from moto.core import responses as moto_responses
    from moto.core import utils as moto_utils

    asks = moto_responses.method_names_from_class
    assert getattr(asks, "pocctl_one_name", False)  # conftest prepared it
    listing = moto_utils.method_names_from_class
    for cls in moto_response_classes():
        names = asks(cls)
        listed = listing(cls)
        assert sorted(names) == sorted(listed) and len(names) == len(listed)
        for name in {*dir(cls), "no_such_action", "", "__init__", "dispatch"}:
            assert (name in names) is (name in listed), (cls, name)
        assert 42 not in names


def test_a_function_given_to_a_response_class_later_is_an_action(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.core import responses as moto_responses
    from moto.sns.responses import SNSResponse

    names = moto_responses.method_names_from_class(SNSResponse)
    assert "pocctl_later" not in names
    monkeypatch.setattr(SNSResponse, "pocctl_later", lambda self: "", raising=False)
    assert "pocctl_later" in names  # read when asked, not when listed
    monkeypatch.setattr(SNSResponse, "list_topics", property(lambda self: ""))
    assert "list_topics" not in names


def test_a_request_moto_answers_lists_no_class(monkeypatch: pytest.MonkeyPatch) -> None:
    import inspect

    import boto3
    from moto import mock_aws

    listed: list[Any] = []
    getmembers = inspect.getmembers

    def counted(cls: Any, *args: Any, **kwargs: Any) -> Any:
        listed.append(cls)
        return getmembers(cls, *args, **kwargs)

    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sns.list_topics()  # moto's first request imports what it needs
        monkeypatch.setattr(inspect, "getmembers", counted)
        assert sns.create_topic(Name="asked")["TopicArn"].endswith(":asked")
        assert [t["TopicArn"] for t in sns.list_topics()["Topics"]][-1].endswith(":asked")
    assert listed == []
