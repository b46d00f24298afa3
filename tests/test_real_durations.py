"""Issue 11's acceptance at AWS's real durations (slow: about two minutes, mostly SQS's 60 s)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.local.emulator import Emulator

# The timeout catches a hang, not slowness (speed is the benchmark's): CI runs this beside
# the rest of the suite on 2 cores, where these jobs took 4 to 5 minutes.
pytestmark = [pytest.mark.slow, pytest.mark.long, pytest.mark.timeout(1200)]


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator(port=0) as running:  # a default `pocctl local`: real durations
        monkeypatch.setenv("AWS_ENDPOINT_URL", running.endpoint_url)
        yield running


def test_cold_up_then_test_order_then_down_then_up_at_once(emulator: Emulator) -> None:
    runner = CliRunner()

    def pocctl(*args: str) -> dict[str, object]:
        result = runner.invoke(cli, [*args, "--stack", "real", "--json"])
        assert result.exit_code == 0, result.output
        document: dict[str, object] = json.loads(result.stdout)
        return document

    for _ in range(2):  # the second time right after down: DELETING table, names refused
        pocctl("up")
        assert pocctl("test-order")["ok"] is True
        down = pocctl("down", "--yes")
        assert down["left"] == []
