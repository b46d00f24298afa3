"""The issue's acceptance run, over HTTP against moto's server, as a user would run it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from moto.server import ThreadedMotoServer

from pocctl.cli import cli
from pocctl.core.session import new_session

from .inventory import everything, flatten, of_stack


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # Port 0: the server binds a free port itself (one found free beforehand may be taken by
    # another test before the server binds it).
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    yield url
    server.stop()


def pocctl(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_up_twice_second_stack_and_down(endpoint: str) -> None:
    session: Any = new_session(region_name="us-east-1")

    first = pocctl("up", "--email", "ops@example.com")
    assert "25 created" in first
    assert f"Order endpoint: {endpoint}/restapis/" in first

    assert "0 created, 0 updated, 25 unchanged" in pocctl("up", "--email", "ops@example.com")

    pocctl("up", "--stack", "dev")
    poc_only = of_stack(everything(session), "POC", "orders")
    dev = of_stack(everything(session), "dev", "dev-orders")
    assert dev["tables"] == ["dev-orders"] and dev["apis"] == ["dev-API"]
    assert len(dev["mappings"]) == 2 and len(poc_only["mappings"]) == 2

    outputs = json.loads(pocctl("outputs", "--stack", "dev", "--json"))
    assert outputs["order_url"].startswith(f"{endpoint}/restapis/")

    pocctl("down", "--stack", "dev", "--yes")
    assert flatten(of_stack(everything(session), "dev", "dev-orders")) == []
    assert of_stack(everything(session), "POC", "orders") == poc_only

    pocctl("down", "--yes")
    pocctl("down", "--yes")
    assert flatten(everything(session)) == []
