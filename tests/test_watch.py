"""`pocctl up --watch` uploads each saved change to the functions it changes, reports a save
that doesn't compile without uploading it, keeps watching through a dropped connection or
expired credentials, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, UnauthorizedSSOTokenError
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.cli.options import Runtime
from pocctl.code.bundle import bundled_dir
from pocctl.code.packaging import code_sha256
from pocctl.core.context import Context
from pocctl.core.errors import PocctlError
from pocctl.local.emulator import Emulator
from pocctl.ops.watch import POLL, watch, watching
from pocctl.pipeline.stack import build_steps
from pocctl.resources.functions import FunctionStep

from .emulated import local_context, up_local
from .faults import runtime_with
from .wheels import make_wheel, offline_requirements


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
    assert result.exit_code == 130, result.output  # interrupted, as the README says
    assert f"Watching {handlers}/ for changes (Ctrl-C to stop)" in result.output
    assert "Stopped watching (0 change(s) seen)." in result.output


class NextUpload:
    """What the next UpdateFunctionCode meets: an exception raised as botocore raises it, or an
    AWS error code answered as AWS would; then calls go through again."""

    def __init__(self) -> None:
        self.fault: BaseException | tuple[str, str] | None = None

    def __call__(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        fault, self.fault = self.fault, None
        if isinstance(fault, BaseException):
            raise fault
        if fault is None:
            return None
        code, message = fault
        return AWSResponse("https://fault.invalid", 400, {}, None), {
            "Error": {"Code": code, "Message": message}
        }


def between_looks(steps: list[Callable[[], None]]) -> Callable[[float], None]:
    """A sleep that runs the next step each time the watcher waits before looking at the
    directory again (so each step starts once the previous save was handled), then presses
    Ctrl-C; every other pause (up's, an update's) is real."""

    def sleep(seconds: float) -> None:
        callers, frame = set(), sys._getframe(1)
        while frame is not None:
            callers.add(frame.f_code.co_name)
            frame = frame.f_back
        if seconds != POLL or "watch" not in callers or "_update" in callers:
            time.sleep(seconds)
        elif steps:
            steps.pop(0)()
        else:
            raise KeyboardInterrupt

    return sleep


@pytest.mark.slow  # heavy (tests/cases.py)
def test_up_watch_keeps_watching_through_a_dropped_connection_and_expired_credentials(
    emulator: Emulator, own: tuple[Context, Path]
) -> None:
    ctx, handlers = own
    notifier = handlers / "order_notifier.py"
    original = notifier.read_text()
    upload = NextUpload()

    def save(subject: str, fault: BaseException | tuple[str, str] | None) -> Callable[[], None]:
        def step() -> None:
            upload.fault = fault
            notifier.write_text(f"{original}\n# subject: {subject}\n")

        return step

    endpoint = f"{emulator.endpoint_url}/2015-03-31/functions"
    steps = [
        save("Order", EndpointConnectionError(endpoint_url=endpoint)),
        save(
            "Order in",
            ("ExpiredTokenException", "The security token included in the request is expired"),
        ),
        save("An order", UnauthorizedSSOTokenError()),
        save("Your order", None),
    ]
    arguments = ["up", "--watch", "--stack", ctx.config.stack, "--handlers", str(handlers)]
    try:
        result = CliRunner().invoke(
            cli,
            arguments,
            env={"AWS_ENDPOINT_URL": emulator.endpoint_url},
            obj=runtime_with(
                lambda session: session.events.register(
                    "before-call.lambda.UpdateFunctionCode", upload
                ),
                sleep=between_looks(steps),
            ),
        )
        functions = [s for s in build_steps(ctx.config) if isinstance(s, FunctionStep)]
        saved = functions[0].source.package(ctx).archive("order_notifier.handler")
    finally:
        notifier.write_text(original)
    assert result.exit_code == 130, result.output  # stopped by Ctrl-C
    lines = result.output.splitlines()
    failed = [i for i, line in enumerate(lines) if line.startswith("order_notifier.py: ")]
    assert len(failed) == 4, result.output
    assert f"Could not reach the AWS endpoint {endpoint}" in lines[failed[0]]
    assert "ExpiredTokenException" in lines[failed[1]] and "expired" in lines[failed[1]]
    assert "SSO session" in "\n".join(lines[failed[2] : failed[3]])
    assert result.output.count("Watching on: the next save tries again.") == 3
    assert f"updated {ctx.config.names.notifier_function}" in lines[failed[3]]
    assert "Stopped watching (4 change(s) seen)." in result.output
    assert code_of(ctx, ctx.config.names.notifier_function) == code_sha256(saved)


@pytest.mark.slow  # heavy (tests/cases.py)
def test_up_watch_ships_a_dependency_added_to_requirements_txt_with_ups_notes(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21, item 6: requirements.txt goes into the package too, and so do the files it
    names with -r (here one outside the directory): saving either is a change like a handler's,
    and the update says what `up` would (here: compiled code built for the runtime, while
    offline the functions run on this machine's Python)."""
    monkeypatch.setenv("POCCTL_CACHE_DIR", str(tmp_path / "cache"))
    handlers = tmp_path / "handlers"
    shutil.copytree(bundled_dir("handlers"), handlers)
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    runtime = "python3.12" if here == "python3.13" else "python3.13"
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "fastorder", extra={"_fastorder.so": b"\x7fELF not really"})
    make_wheel(wheels, "orderstamp")
    common = tmp_path / "common-requirements.txt"
    common.write_text("# shared by our functions\n")

    def add_dependency() -> None:
        (handlers / "requirements.txt").write_text(
            offline_requirements(wheels, "fastorder") + f"-r ../{common.name}\n"
        )

    def add_common_dependency() -> None:
        common.write_text("orderstamp\n")

    arguments = ["up", "--watch", "--stack", "deps", "--handlers", str(handlers)]
    result = CliRunner().invoke(
        cli,
        arguments,
        env={"AWS_ENDPOINT_URL": emulator.endpoint_url, "POCCTL_RUNTIME": runtime},
        obj=Runtime(sleep=between_looks([add_dependency, add_common_dependency])),
    )
    assert result.exit_code == 130, result.output  # stopped by Ctrl-C
    watched = result.output.split("for changes (Ctrl-C to stop) ...", 1)[1]
    assert "requirements.txt: updated deps-Lambda-1, deps-Lambda-2" in watched, result.output
    assert f"note: Offline, your functions run on this machine's Python ({here})" in watched
    assert f"fastorder has compiled code built for {runtime} on Linux" in watched
    assert f"{common.resolve()}: updated deps-Lambda-1, deps-Lambda-2" in watched
    assert "Stopped watching (2 change(s) seen)." in watched
    # What runs is the package with the dependency: up finds nothing to upload.
    checked = CliRunner().invoke(
        cli,
        ["up", "--dry-run", "--json", *arguments[2:]],
        env={"AWS_ENDPOINT_URL": emulator.endpoint_url, "POCCTL_RUNTIME": runtime},
    )
    assert checked.exit_code == 0, checked.output
    document = json.loads(checked.stdout)
    assert document["code"]["dependencies"] == ["fastorder==1.0", "orderstamp==1.0"]
    assert set(document["counts"]) == {"unchanged"}, document["counts"]


@pytest.mark.slow  # heavy (tests/cases.py)
def test_up_watch_with_a_relative_handlers_path_names_files_as_the_user_does(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21, item 4 (review): the README's flow (`handlers = "handlers"`, a relative path):
    requirements.txt is named as in the directory, and the "Watching" line says which files
    outside it are watched too."""
    monkeypatch.setenv("POCCTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    shutil.copytree(bundled_dir("handlers"), tmp_path / "handlers")
    common = tmp_path / "common-requirements.txt"
    common.write_text("# shared by our functions\n")
    requirements = tmp_path / "handlers" / "requirements.txt"
    requirements.write_text(f"-r ../{common.name}\n")

    def comment() -> None:
        requirements.write_text(f"# ours\n-r ../{common.name}\n")

    result = CliRunner().invoke(
        cli,
        ["up", "--watch", "--stack", "rel", "--handlers", "handlers"],
        env={"AWS_ENDPOINT_URL": emulator.endpoint_url},
        obj=Runtime(sleep=between_looks([comment])),
    )
    assert result.exit_code == 130, result.output
    assert (
        f"Watching handlers/ (and {common.resolve()}, which requirements.txt names) for changes"
        in result.output
    )
    watched = result.output.split("for changes (Ctrl-C to stop) ...", 1)[1]
    assert "\nrequirements.txt: no function's code changed" in watched, result.output
