"""A handler directory that relies on a package only pocctl's own environment has: `up` refuses
one imported at module level (its import check), and one imported only when the handler runs
fails on `pocctl local` as it would on Lambda, instead of working offline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.code.bundle import bundled_dir
from pocctl.local.emulator import Emulator
from pocctl.ops.smoke import run_test_order

from .emulated import up_local

# click is installed beside pocctl (its CLI), not in Lambda's Python runtime.
IMPORTED_WHEN_STORING = (
    "\n\nstore_it = store\n\n"
    "def store(record):\n"
    "    import click  # only when an order comes\n"
    "    store_it(record)\n"
)


def handlers_copy(tmp_path: Path, added: str) -> Path:
    handlers = tmp_path / "handlers"
    shutil.copytree(bundled_dir("handlers"), handlers)
    writer = handlers / "order_writer.py"
    writer.write_text(writer.read_text() + added)
    return handlers


@pytest.mark.parametrize("module", ["rich", "pocctl"])
def test_up_refuses_a_handler_importing_what_only_pocctl_has(
    emulator: Emulator, tmp_path: Path, module: str
) -> None:
    handlers = handlers_copy(tmp_path, f"\nimport {module}\n")
    result = CliRunner().invoke(
        cli,
        ["up", "--stack", f"own{module[:3]}", "--handlers", str(handlers)],
        env={"AWS_ENDPOINT_URL": emulator.endpoint_url},
    )
    assert result.exit_code == 1, result.output
    assert f"No module named '{module}'" in result.output
    assert "Nothing was uploaded" in result.output


def test_a_package_imported_when_the_handler_runs_is_missing_offline_as_on_lambda(
    emulator: Emulator, tmp_path: Path
) -> None:
    handlers = handlers_copy(tmp_path, IMPORTED_WHEN_STORING)
    ctx = up_local(emulator, "lateimp", handlers=str(handlers))
    result = run_test_order(ctx, timeout=5)
    # Without click in reach, the order would be stored and test-order pass, offline only.
    assert result.failed_hop is not None and result.failed_hop.name == "stored"
    logs = ctx.client("logs")
    events = logs.filter_log_events(logGroupName="/aws/lambda/lateimp-Lambda-1")["events"]
    assert any("No module named 'click'" in e["message"] for e in events)
