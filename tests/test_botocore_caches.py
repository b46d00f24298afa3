"""botocore_caches: botocore behaves as before, with work remembered across sessions and clients."""

from __future__ import annotations

import functools
import inspect
import json
import os
import threading
from collections.abc import Callable
from operator import methodcaller
from pathlib import Path
from typing import Any

import botocore.compat
import botocore.hooks
import pytest
from botocore.hooks import EventAliaser, HierarchicalEmitter
from botocore.loaders import JSONFileLoader, Loader
from botocore.utils import EVENT_ALIASES
from moto import mock_aws

from pocctl.core.session import new_session

from .threads import ask_meanwhile


@mock_aws
def test_a_handler_under_an_aliased_name_fires_on_every_new_client() -> None:
    """botocore aliases 'apigateway' to 'api-gateway' in event names: a handler registered
    under either name fires, on a client of a second session too (their emitters share what
    they worked out)."""
    heard: list[str] = []
    for _ in range(2):
        client = new_session(region_name="us-east-1").client("apigateway")
        client.meta.events.register(
            "before-call.apigateway.GetRestApis", lambda **kw: heard.append("old name")
        )
        client.meta.events.register(
            "before-call.api-gateway.GetRestApis", lambda **kw: heard.append("new name")
        )
        client.get_rest_apis()
    assert heard == ["old name", "new name"] * 2


def test_clients_of_different_sessions_share_what_their_emitters_worked_out() -> None:
    first = new_session(region_name="us-east-1").client("sqs", endpoint_url="http://localhost:1")
    second = new_session(region_name="us-east-1").client("sqs", endpoint_url="http://localhost:1")
    assert first.meta.events._alias_name_cache is second.meta.events._alias_name_cache


def test_aliases_apply_in_their_order_however_many_emitters_there_are() -> None:
    """The first alias that matches wins, as in botocore: the same aliases in another order
    name the same event differently."""
    names = []
    for aliases in ({"a": "x", "b": "y"}, {"b": "y", "a": "x"}):
        emitter = EventAliaser(HierarchicalEmitter(), aliases)
        emitter.register("ev", lambda event_name, **kw: names.append([event_name]))
        emitter.emit("ev.a.b")
    assert names == [["ev.x.b"], ["ev.a.y"]]


def test_botocores_aliases_in_another_order_are_other_aliases() -> None:
    reordered = dict(reversed(list(EVENT_ALIASES.items())))
    default = EventAliaser(HierarchicalEmitter())
    other = EventAliaser(HierarchicalEmitter(), reordered)
    assert other._alias_name_cache is not default._alias_name_cache


def test_emitters_with_other_aliases_keep_their_own_names() -> None:
    default = EventAliaser(HierarchicalEmitter())
    other = EventAliaser(HierarchicalEmitter(), {"queue": "sqs"})
    heard: list[str] = []
    default.register("before-call.sqs", lambda **kw: heard.append("default"))
    other.register("before-call.sqs", lambda **kw: heard.append("other"))
    default.emit("before-call.queue")  # no alias for "queue" here: nothing registered for it
    other.emit("before-call.queue")
    default.emit("before-call.queue")
    assert heard == ["other"]


class Handlers:
    def takes_kwargs(self, **kwargs: Any) -> None:
        pass

    def takes_none(self) -> None:
        pass


def test_a_handler_without_kwargs_is_still_refused_every_time() -> None:
    events = new_session(region_name="us-east-1")._session.get_component("event_emitter")
    handlers = Handlers()
    for _ in range(2):
        events.register("before-call.sqs", handlers.takes_kwargs)
        with pytest.raises(ValueError, match="must accept keyword arguments"):
            events.register("before-call.sqs", handlers.takes_none)
        with pytest.raises(ValueError, match="must accept keyword arguments"):
            events.register("before-call.sqs", lambda event_name: None)


def takes(**kwargs: Any) -> None:
    pass


def test_a_handlers_signature_is_read_once_and_again_when_it_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read: list[Any] = []
    spec = inspect.getfullargspec
    monkeypatch.setattr(inspect, "getfullargspec", lambda f: read.append(f) or spec(f))

    def handler(**kwargs: Any) -> None:
        pass

    assert botocore.hooks.accepts_kwargs(handler)
    assert botocore.hooks.accepts_kwargs(handler)
    assert read == [handler]
    handler.__code__ = (lambda event_name: None).__code__
    assert not botocore.hooks.accepts_kwargs(handler)
    handler.__signature__ = inspect.signature(takes)  # type: ignore[attr-defined]
    assert botocore.hooks.accepts_kwargs(handler)


@pytest.mark.parametrize(
    "make",
    [
        lambda: takes,
        lambda: staticmethod(takes),
        lambda: functools.partial(takes),
        lambda: Handlers().takes_kwargs,
        lambda: Handlers().takes_none,
        lambda: len,
    ],
    ids=["function", "staticmethod", "partial", "method", "method-without", "builtin"],
)
def test_every_kind_of_handler_gets_botocores_own_answer(make: Any) -> None:
    def plain() -> Any:
        try:
            return botocore.compat.accepts_kwargs(make())
        except TypeError as exc:
            return type(exc)

    def cached() -> Any:
        try:
            return botocore.hooks.accepts_kwargs(make())
        except TypeError as exc:
            return type(exc)

    first = cached()
    assert first == plain() == cached()


def a_model(root: Path, service: str, name: str = "service-2") -> None:
    version = root / service / "2020-01-01"
    version.mkdir(parents=True)
    (version / f"{name}.json").write_text(json.dumps({"metadata": {}, "service": service}))


def loader_of(*roots: Path) -> Loader:
    return Loader(extra_search_paths=[str(r) for r in roots], include_default_search_paths=False)


def queues_and_topics(tmp_path: Path) -> tuple[Path, Path]:
    """Two search paths, a service in each: queues in the first, topics in the second."""
    first, second = tmp_path / "first", tmp_path / "second"
    a_model(first, "queues")
    a_model(second, "topics")
    return first, second


def services_listed(monkeypatch: pytest.MonkeyPatch, *roots: Path) -> list[str]:
    """The directories of services under `roots` listed from now on: a walk (a search path's
    own listing is how a loader sees that a service was added)."""
    listed: list[str] = []
    listdir = os.listdir

    def listing(path: str) -> list[str]:
        if Path(path).parent in roots:
            listed.append(path)
        return listdir(path)

    monkeypatch.setattr(os, "listdir", listing)
    return listed


def test_loaders_with_the_same_search_paths_walk_them_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_model(tmp_path, "queues")
    assert loader_of(tmp_path).list_available_services("service-2") == ["queues"]
    listed = services_listed(monkeypatch, tmp_path)
    assert loader_of(tmp_path).list_available_services("service-2") == ["queues"]
    assert listed == []


def test_a_service_added_to_a_search_path_is_listed_by_the_next_loader(tmp_path: Path) -> None:
    a_model(tmp_path, "queues")
    assert loader_of(tmp_path).list_available_services("service-2") == ["queues"]
    a_model(tmp_path, "topics")
    assert loader_of(tmp_path).list_available_services("service-2") == ["queues", "topics"]


def test_a_loader_that_listed_before_never_hands_its_old_list_to_new_ones(tmp_path: Path) -> None:
    """A loader remembers what it listed (botocore's instance_cache): the shared list is walked
    afresh, not taken from the loader that happens to ask."""
    a_model(tmp_path, "queues")
    old = loader_of(tmp_path)
    assert old.list_available_services("service-2") == ["queues"]
    a_model(tmp_path, "topics")
    assert old.list_available_services("service-2") == ["queues", "topics"]
    assert loader_of(tmp_path).list_available_services("service-2") == ["queues", "topics"]


def test_a_search_path_added_to_a_loader_is_walked(tmp_path: Path) -> None:
    """session.py adds boto3's data path to its loader's search paths in place."""
    first, second = queues_and_topics(tmp_path)
    loader = loader_of(first)
    assert loader.list_available_services("service-2") == ["queues"]
    loader.search_paths.append(str(second))
    assert loader.list_available_services("service-2") == ["queues", "topics"]
    assert loader_of(first, second).list_available_services("service-2") == ["queues", "topics"]


def test_a_list_one_caller_changes_is_not_the_next_callers(tmp_path: Path) -> None:
    a_model(tmp_path, "queues")
    loader_of(tmp_path).list_available_services("service-2").append("changed")
    assert loader_of(tmp_path).list_available_services("service-2") == ["queues"]


def test_a_loader_that_looks_in_its_own_places_keeps_its_own_list(tmp_path: Path) -> None:
    """Only botocore's own walk is shared: two loaders of a kind that looks elsewhere, with
    the same search paths, list what each finds."""
    first, second = queues_and_topics(tmp_path)

    class Elsewhere(Loader):
        place = ""

        def _potential_locations(self, *args: Any, **kwargs: Any) -> Any:
            yield self.place

    listed = []
    for place in (first, second):
        loader = Elsewhere(extra_search_paths=[str(first)], include_default_search_paths=False)
        loader.place = str(place)
        listed.append(loader.list_available_services("service-2"))
    assert listed == [["queues"], ["topics"]]


def test_loaders_with_other_search_paths_or_kinds_get_their_own_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = queues_and_topics(tmp_path)
    a_model(second, "tables", "paginators-1")
    listed = services_listed(monkeypatch, first, second)
    for _ in range(2):  # each remembered apart: asked again, none is walked again
        assert loader_of(first).list_available_services("service-2") == ["queues"]
        assert loader_of(second).list_available_services("service-2") == ["topics"]
        assert loader_of(second).list_available_services("paginators-1") == ["tables"]
        both = loader_of(first, second).list_available_services("service-2")
        assert both == ["queues", "topics"]
        walked, listed[:] = list(listed), []
    assert walked == []


@pytest.mark.parametrize(
    "read",
    [
        lambda loader: loader.load_service_model("queues", "service-2"),
        methodcaller("load_data", "queues/2020-01-01/service-2"),
    ],
)
def test_a_file_two_threads_ask_for_at_once_is_read_once(
    tmp_path: Path, read: Callable[[Loader], Any]
) -> None:
    """A command's first clients are made side by side: the second asker of a model waits for
    the first reader's answer instead of reading and parsing the file too."""
    a_model(tmp_path, "queues")
    loader = loader_of(tmp_path)
    reads: list[str] = []
    second_read = threading.Event()
    answers: list[Any] = []
    asker = threading.Thread(target=lambda: answers.append(read(loader)))
    load_file = loader.file_loader.load_file

    def reading(path: str) -> Any:
        if path.endswith("service-2"):  # the model itself (not its extras, if any)
            reads.append(path)
            if len(reads) == 1:  # the first reader: the second asks meanwhile
                ask_meanwhile(asker, second_read, Loader.load_service_model.__code__.co_name)
            else:
                second_read.set()
        return load_file(path)

    loader.file_loader.load_file = reading  # type: ignore[method-assign]
    first = read(loader)
    asker.join()
    assert len(reads) == 1, reads
    assert answers == [first]


def test_a_service_added_within_one_tick_of_the_listing_is_seen(tmp_path: Path) -> None:
    """A directory's time moves in ticks (a jiffy on older kernels): its listing is compared."""
    a_model(tmp_path, "queues")
    before = os.stat(tmp_path).st_mtime_ns
    assert loader_of(tmp_path).list_available_services("service-2") == ["queues"]
    a_model(tmp_path, "topics")
    os.utime(tmp_path, ns=(before, before))  # a coarse clock: the same time as before
    assert loader_of(tmp_path).list_available_services("service-2") == ["queues", "topics"]


def test_a_search_path_added_while_walking_is_not_in_the_old_paths_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = queues_and_topics(tmp_path)
    loader = loader_of(first)
    listdir = os.listdir

    def listing(path: str) -> list[str]:
        if Path(path).parent == first and str(second) not in loader.search_paths:
            loader.search_paths.append(str(second))  # another thread, meanwhile
        return listdir(path)

    monkeypatch.setattr(os, "listdir", listing)
    loader.list_available_services("service-2")
    monkeypatch.undo()
    assert loader_of(first).list_available_services("service-2") == ["queues"]


class OnlyQueues(JSONFileLoader):
    def exists(self, file_path: str) -> bool:
        return "queues" in file_path and super().exists(file_path)


@pytest.mark.parametrize("changed", ["its class", "the loader alone"])
def test_a_loader_whose_files_are_found_otherwise_keeps_its_list_to_itself(
    tmp_path: Path, changed: str
) -> None:
    a_model(tmp_path, "queues")
    a_model(tmp_path, "topics")
    other = loader_of(tmp_path)
    if changed == "its class":
        other.file_loader = OnlyQueues()
    else:
        other.file_loader.exists = lambda path: "queues" in path  # type: ignore[method-assign]
    assert other.list_available_services("service-2") == ["queues"]
    assert loader_of(tmp_path).list_available_services("service-2") == ["queues", "topics"]
