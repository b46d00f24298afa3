"""`pocctl up --watch` uploads each saved change to the functions it changes, reports a save
that doesn't compile without uploading it, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pocctl.bundle import bundled_dir
from pocctl.cli import cli
from pocctl.cli.options import Runtime
from pocctl.context import Context
from pocctl.errors import PocctlError
from pocctl.local.emulator import Emulator
from pocctl.resources.functions import FunctionStep
from pocctl.stack import build_steps
from pocctl.watch import watch, watching

from .emulated import local_context, up_local


@pytest.fixture(scope="module")
def own(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> tuple[Context, Path]:
    handlers = tmp_path_factory.mktemp("own") / "handlers"
    shutil.copytree(bundled_dir("handlers"), handlers)
    return up_local(emulator, "watched", handlers=str(handlers)), handlers


def code_of(ctx: Context, function: str) -> str:
    lam = ctx.client("lambda")
    sha: str = lam.get_function_configuration(FunctionName=function)["CodeSha256"]
    return sha


def test_watch_updates_only_the_function_whose_code_changed(own: tuple[Context, Path]) -> None:
    ctx, handlers = own
    n = ctx.config.names
    functions = [s for s in build_steps(ctx.config) if isinstance(s, FunctionStep)]
    writer_file = handlers / "order_writer.py"
    writer_source = writer_file.read_text()
    writer_before = code_of(ctx, n.writer_function)
    notifier_before = code_of(ctx, n.notifier_function)
    try:
        with watching(ctx, functions) as updates:
            notifier = handlers / "order_notifier.py"
            notifier.write_text(notifier.read_text().replace("New order", "Order in"))
            first = updates.get(timeout=60)
            assert first.changed == ["order_notifier.py"] and first.error is None
            assert first.updated == [n.notifier_function]
            assert first.seconds > 0
            assert code_of(ctx, n.writer_function) == writer_before
            assert code_of(ctx, n.notifier_function) != notifier_before

            writer_file.write_text("def handler(event, context):\n    return (\n")
            second = updates.get(timeout=60)
            assert second.updated == [] and second.error is not None
            assert "handlers/order_writer.py, line 2" in second.error
            assert code_of(ctx, n.writer_function) == writer_before  # nothing was uploaded
    finally:
        writer_file.write_text(writer_source)


def test_watch_needs_your_own_handlers(emulator: Emulator) -> None:
    ctx = local_context(emulator, "builtin")
    functions = [s for s in build_steps(ctx.config) if isinstance(s, FunctionStep)]
    with pytest.raises(PocctlError, match="--watch watches your own handlers"):
        watch(ctx, functions, lambda update: None)
    env = {"AWS_ENDPOINT_URL": emulator.endpoint_url}
    result = CliRunner().invoke(cli, ["up", "--watch", "--stack", "builtin"], env=env)
    assert result.exit_code == 1
    assert "--watch watches your own handlers" in result.output
    assert "nothing was changed" in result.output and "pocctl init --handlers" in result.output
    functions_now = ctx.client("lambda").list_functions()["Functions"]
    assert not [f for f in functions_now if f["FunctionName"].startswith("builtin-")]


def test_ctrl_c_stops_up_watch_cleanly(emulator: Emulator, own: tuple[Context, Path]) -> None:
    ctx, handlers = own

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    arguments = ["up", "--watch", "--stack", ctx.config.stack, "--handlers", str(handlers)]
    result = CliRunner().invoke(
        cli,
        arguments,
        env={"AWS_ENDPOINT_URL": emulator.endpoint_url},
        obj=Runtime(sleep=interrupt),
    )
    assert result.exit_code == 0, result.output
    assert f"Watching {handlers}/ for changes (Ctrl-C to stop)" in result.output
    assert "Stopped watching (0 change(s) seen)." in result.output
