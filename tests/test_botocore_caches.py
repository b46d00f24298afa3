"""botocore_caches: botocore behaves as before, with work remembered across sessions and clients."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import botocore.compat
import botocore.hooks
import pytest
from botocore.hooks import EventAliaser, HierarchicalEmitter
from botocore.utils import EVENT_ALIASES
from moto import mock_aws

from pocctl.core.session import new_session


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
