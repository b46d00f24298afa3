"""botocore_caches: botocore behaves as before, with work remembered across sessions and clients."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.hooks import EventAliaser, HierarchicalEmitter
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
