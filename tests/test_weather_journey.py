"""The journey under AWS's weather: `up`, `test-order`, `status`, `down` against a `pocctl
local` that draws every wait from its range (`--aws-timing random`), for a few seeds. A failure
names its seed: `pocctl local --aws-timing random --seed N` replays it."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner, Result

from pocctl.cli import cli
from pocctl.local.aws.timing import Timing
from pocctl.local.emulator import Emulator

from .emulated import TIMING


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_journey_copes_with_random_weather(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = f"w{uuid.uuid4().hex[:8]}"
    runner = CliRunner()

    def pocctl(*args: str) -> Result:
        return runner.invoke(cli, [*args, "--stack", stack], catch_exceptions=False)

    with Emulator(port=0, timing=Timing(scale=TIMING.scale, seed=seed)) as emulator:
        monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
        try:
            up = pocctl("up")
            assert up.exit_code == 0, f"seed {seed}: {up.output}"
            order = pocctl("test-order", "--json", "--timeout", "120")
            assert order.exit_code == 0, f"seed {seed}: {order.output}"
            assert json.loads(order.stdout)["order_id"]
            status = pocctl("status")
            assert status.exit_code == 0, f"seed {seed}: {status.output}"
            assert "healthy" in status.output, f"seed {seed}: {status.output}"
        finally:
            down = pocctl("down", "--yes")
        assert down.exit_code == 0, f"seed {seed}: {down.output}"
        assert f"nothing tagged pocctl:stack={stack} is left" in down.output, (
            f"seed {seed}: {down.output}"
        )
