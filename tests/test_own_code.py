"""Your own handlers: `init --handlers`, packaging the directory with its requirements.txt, the
checks before anything is uploaded, and which code `status` says runs."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pocctl.cli import cli
from pocctl.code import dependencies, handler_check
from pocctl.code.bundle import bundled_dir
from pocctl.code.packaging import (
    UNZIPPED_LIMIT,
    ZIPPED_LIMIT,
    Package,
    build_package,
    check_size,
    code_sha256,
)
from pocctl.core.errors import PocctlError
from pocctl.core.session import new_session

from .wheels import make_sdist, make_wheel, offline_requirements

HANDLERS = {"POC-Lambda-1": "order_writer.handler", "POC-Lambda-2": "order_notifier.handler"}
ENVIRONMENTS = {"POC-Lambda-1": {"TABLE_NAME": "orders"}, "POC-Lambda-2": {"TOPIC_ARN": "x"}}


def own_handlers(tmp_path: Path) -> Path:
    result = CliRunner().invoke(cli, ["init", "--handlers"])
    assert result.exit_code == 0, result.output
    return tmp_path / "handlers"


def package(directory: Path, runtime: str = "python3.13") -> Package:
    return build_package(
        str(directory),
        HANDLERS,
        runtime=runtime,
        region="us-east-1",
        environments=ENVIRONMENTS,
    )


def names_in(archive: bytes) -> set[str]:
    return set(zipfile.ZipFile(io.BytesIO(archive)).namelist())


@pytest.fixture
def session(aws: None) -> Any:
    return new_session(region_name="us-east-1")


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("POCCTL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_init_handlers_copies_the_code_and_points_pocctl_toml_at_it(tmp_path: Path) -> None:
    handlers = own_handlers(tmp_path)
    built_in = bundled_dir("handlers")
    for name in ("order_writer.py", "order_notifier.py"):
        assert (handlers / name).read_bytes() == (built_in / name).read_bytes()
    assert (handlers / "requirements.txt").is_file()
    result = CliRunner().invoke(cli, ["config", "--json"])
    setting = json.loads(result.stdout)["settings"]["handlers"]
    assert setting == {"value": "handlers", "source": "pocctl.toml"}


def test_init_handlers_never_overwrites_code(tmp_path: Path) -> None:
    handlers = own_handlers(tmp_path)
    (handlers / "order_writer.py").write_text("# mine\n")
    result = CliRunner().invoke(cli, ["init", "--handlers"])
    assert result.exit_code == 1
    assert "handlers/ already has order_notifier.py, order_writer.py" in result.output
    assert (handlers / "order_writer.py").read_text() == "# mine\n"


def test_init_handlers_force_replaces_pocctls_files_and_keeps_yours(tmp_path: Path) -> None:
    handlers = own_handlers(tmp_path)
    (handlers / "order_writer.py").write_text("# mine\n")
    (handlers / "requirements.txt").write_text("orderstamp\n")
    (handlers / "shared.py").write_text("X = 1\n")
    result = CliRunner().invoke(cli, ["init", "--handlers", "--force"])
    assert result.exit_code == 0, result.output
    assert "Replaced order_notifier.py, order_writer.py in handlers/" in result.output
    built_in = bundled_dir("handlers")
    assert (handlers / "order_writer.py").read_bytes() == (
        built_in / "order_writer.py"
    ).read_bytes()
    assert (handlers / "requirements.txt").read_text() == "orderstamp\n"
    assert (handlers / "shared.py").read_text() == "X = 1\n"


def pocctl_repository(directory: Path) -> Path:
    """A checkout of pocctl as a new user has it: pyproject.toml, and handlers/ (its source)."""
    root = Path(__file__).resolve().parent.parent
    shutil.copyfile(root / "pyproject.toml", directory / "pyproject.toml")
    # As a fresh checkout has it: without the bytecode Python wrote where tests imported it.
    ignored = shutil.ignore_patterns("__pycache__")
    shutil.copytree(bundled_dir("handlers"), directory / "handlers", ignore=ignored)
    return directory / "handlers"


def test_init_handlers_in_pocctls_repository_copies_beside_its_source(tmp_path: Path) -> None:
    source = pocctl_repository(tmp_path)
    before = {p.name: p.read_bytes() for p in source.iterdir()}
    for attempt in (["init", "--handlers"], ["init", "--handlers", "--force"]):
        result = CliRunner().invoke(cli, attempt)
        assert result.exit_code == 0, result.output
        assert "./handlers is pocctl's own source" in result.output
        assert "your copy goes into ./my-handlers" in result.output
        assert "Change the code in my-handlers/, then run `pocctl up`." in result.output
    assert {p.name: p.read_bytes() for p in source.iterdir()} == before
    assert (tmp_path / "my-handlers" / "order_writer.py").read_bytes() == before["order_writer.py"]
    settings = json.loads(CliRunner().invoke(cli, ["config", "--json"]).stdout)["settings"]
    assert settings["handlers"] == {"value": "my-handlers", "source": "pocctl.toml"}


def test_init_handlers_refuses_pocctls_own_source_as_the_copy(tmp_path: Path) -> None:
    source = pocctl_repository(tmp_path)
    (source / "order_writer.py").write_text("# pocctl's, being changed\n")
    for attempt in (
        ["init", "--handlers", "handlers"],
        ["init", "--handlers", "handlers/", "--force"],
    ):
        result = CliRunner().invoke(cli, attempt)
        assert result.exit_code == 2, result.output
        assert "is pocctl's own source (its built-in handlers)" in result.output
        assert "`pocctl init --handlers my-handlers`" in result.output
        assert "Traceback" not in result.output
    assert (source / "order_writer.py").read_text() == "# pocctl's, being changed\n"
    assert not (tmp_path / "pocctl.toml").exists()


def test_init_handlers_keeps_an_existing_pocctl_toml_and_adds_the_line(tmp_path: Path) -> None:
    (tmp_path / "pocctl.toml").write_text('stack = "team-a"\nemail = "me@example.com"\n')
    result = CliRunner().invoke(cli, ["init", "--handlers", "src/fns"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "src/fns/order_writer.py").is_file()
    settings = json.loads(CliRunner().invoke(cli, ["config", "--json"]).stdout)["settings"]
    assert settings["stack"]["value"] == "team-a"
    assert settings["email"]["value"] == "me@example.com"
    assert settings["handlers"]["value"] == "src/fns"


@pytest.mark.parametrize("given_by", ["flag", "env", "file"])
def test_the_directory_wins_over_the_built_in_code_by_flag_env_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aws: None, given_by: str
) -> None:
    shutil.copytree(bundled_dir("handlers"), tmp_path / "mine")
    flags = []
    if given_by == "flag":
        flags = ["--handlers", "mine"]
    elif given_by == "env":
        monkeypatch.setenv("POCCTL_HANDLERS", "mine")
    else:
        (tmp_path / "pocctl.toml").write_text('handlers = "mine"\n')
    result = CliRunner().invoke(cli, ["up", "--dry-run", *flags])
    assert result.exit_code == 0, result.output
    assert "Code: mine/ @ " in result.output
    assert "built-in" not in result.output
    if given_by != "flag":  # `config` takes no --handlers
        settings = json.loads(CliRunner().invoke(cli, ["config", "--json"]).stdout)["settings"]
        source = "env POCCTL_HANDLERS" if given_by == "env" else "pocctl.toml"
        assert settings["handlers"] == {"value": "mine", "source": source}


@pytest.mark.slow  # heavy (tests/cases.py)
def test_each_function_gets_its_own_zip_so_one_handler_changes_one_function(
    tmp_path: Path,
) -> None:
    handlers = own_handlers(tmp_path)
    first = package(handlers)
    writer, notifier = (
        first.archive("order_writer.handler"),
        first.archive("order_notifier.handler"),
    )
    assert "order_notifier.py" not in names_in(writer)
    assert "order_writer.py" not in names_in(notifier)
    assert package(handlers).archives == first.archives  # deterministic

    notifier_file = handlers / "order_notifier.py"
    notifier_file.write_text(notifier_file.read_text().replace("New order", "Order"))
    second = package(handlers)
    assert second.archive("order_writer.handler") == writer
    assert second.archive("order_notifier.handler") != notifier

    (handlers / "shared.py").write_text("TAX = 0.2\n")
    third = package(handlers)
    assert third.archive("order_writer.handler") != writer
    assert "shared.py" in names_in(third.archive("order_notifier.handler"))


def test_a_missing_handler_file_is_named(tmp_path: Path) -> None:
    handlers = own_handlers(tmp_path)
    (handlers / "order_writer.py").unlink()
    with pytest.raises(PocctlError, match=r"handlers/order_writer\.py is missing: POC-Lambda-1"):
        package(handlers)


def test_a_syntax_error_is_named_with_its_line(tmp_path: Path) -> None:
    handlers = own_handlers(tmp_path)
    (handlers / "helpers.py").write_text("ok = 1\ndef broken(:\n")
    with pytest.raises(PocctlError, match=r"handlers/helpers\.py, line 2: invalid syntax"):
        package(handlers)


def test_a_handler_that_fails_to_import_is_named(tmp_path: Path) -> None:
    handlers = own_handlers(tmp_path)
    writer = handlers / "order_writer.py"
    # requests is installed beside pocctl, but not in Lambda's runtime: the check must not see it.
    writer.write_text(writer.read_text() + "\nimport requests\n")
    with pytest.raises(PocctlError) as failure:
        package(handlers)
    message = str(failure.value)
    assert "handlers/order_writer.py, line" in message
    assert "No module named 'requests'" in message
    assert "requirements.txt" in message


def test_a_module_the_runtimes_python_no_longer_has_is_refused(tmp_path: Path) -> None:
    """cgi is in this machine's Python (3.11) but not in python3.13's (PEP 594): Lambda would
    fail the import, so `up` refuses it before uploading, as for any missing module."""
    handlers = own_handlers(tmp_path)
    writer = handlers / "order_writer.py"
    writer.write_text(writer.read_text() + "\nimport cgi\n")
    with pytest.raises(PocctlError) as failure:
        package(handlers, runtime="python3.13")
    assert "No module named 'cgi'" in str(failure.value)
    assert "Nothing was uploaded" in str(failure.value)
    package(handlers, runtime="python3.12")  # still there in 3.12


def test_a_missing_handler_function_is_named(tmp_path: Path) -> None:
    handlers = own_handlers(tmp_path)
    notifier = handlers / "order_notifier.py"
    notifier.write_text(notifier.read_text().replace("def handler(", "def handle("))
    with pytest.raises(PocctlError, match="order_notifier has no function 'handler'"):
        package(handlers)


@pytest.mark.slow  # heavy (tests/cases.py)
def test_requirements_are_installed_into_each_zip_and_cached(tmp_path: Path, cache: Path) -> None:
    handlers = own_handlers(tmp_path)
    wheels = tmp_path / "wheels"
    make_wheel(wheels)
    (handlers / "requirements.txt").write_text(offline_requirements(wheels, "orderstamp"))
    writer = handlers / "order_writer.py"
    writer.write_text(
        writer.read_text().replace("import boto3\n", "import boto3\nimport orderstamp\n")
    )
    built = package(handlers)
    assert built.dependencies == ("orderstamp==1.0",)
    for archive in built.archives.values():
        assert "orderstamp.py" in names_in(archive)
    assert "1 dependency" in built.describe()
    (installed,) = (cache / "dependencies").iterdir()
    made = installed.stat().st_mtime_ns
    # The second build resolves the same wheel, and takes it from the cache.
    assert package(handlers).archives == built.archives
    assert list((cache / "dependencies").iterdir()) == [installed]
    assert installed.stat().st_mtime_ns == made


def test_a_dependency_without_a_wheel_for_lambda_is_named(tmp_path: Path) -> None:
    handlers = own_handlers(tmp_path)
    (tmp_path / "wheels").mkdir()
    (handlers / "requirements.txt").write_text(
        offline_requirements(tmp_path / "wheels", "no-such-package-for-pocctl")
    )
    with pytest.raises(PocctlError) as failure:
        package(handlers)
    assert "no wheel of no-such-package-for-pocctl for Lambda's platform" in str(failure.value)
    assert "python3.13 on Linux x86_64" in str(failure.value)


@pytest.mark.parametrize(
    ("archive_bytes", "unzipped", "message"),
    [
        (ZIPPED_LIMIT + 1, 1, "over Lambda's 50 MB limit for a .zip uploaded directly"),
        (1, UNZIPPED_LIMIT + 1, "MB unzipped: over Lambda's 250 MB limit"),
    ],
)
def test_lambdas_size_limits_are_checked_before_upload(
    archive_bytes: int, unzipped: int, message: str
) -> None:
    big = Package("handlers", Path("handlers"), {"h": b"\0" * archive_bytes}, "d", (), (), unzipped)
    with pytest.raises(PocctlError, match=message):
        check_size(big)


def test_up_reports_the_code_and_stops_before_uploading_broken_code(
    tmp_path: Path, runner: CliRunner, session: Any
) -> None:
    handlers = own_handlers(tmp_path)
    result = runner.invoke(cli, ["up", "--json"])
    assert result.exit_code == 0, result.output
    code = json.loads(result.stdout)["code"]
    assert code["source"] == "handlers" and code["dependencies"] == []
    assert "Code: handlers/ @ " + code["digest"] in result.output
    if sys.version_info[:2] != (3, 13):  # the default runtime is python3.13
        assert "the functions run python3.13: it is only a guide" in result.output
    lam = session.client("lambda")
    deployed = lam.get_function_configuration(FunctionName="POC-Lambda-1")["CodeSha256"]
    assert deployed == code["code_sha256"]["order_writer.handler"]

    (handlers / "order_writer.py").write_text("def handler(event, context):\n    return (\n")
    result = runner.invoke(cli, ["up"])
    assert result.exit_code == 1
    assert "handlers/order_writer.py, line 2" in result.output
    assert "Nothing was uploaded" in result.output
    assert lam.get_function_configuration(FunctionName="POC-Lambda-1")["CodeSha256"] == deployed


@pytest.mark.slow  # heavy (tests/cases.py)
def test_status_says_which_code_runs(tmp_path: Path, runner: CliRunner, session: Any) -> None:
    assert runner.invoke(cli, ["up"]).exit_code == 0
    status = json.loads(runner.invoke(cli, ["status", "--json"]).stdout)
    assert status["resources"]["writer"]["code"]["source"] == "built-in"

    handlers = own_handlers(tmp_path)
    writer = handlers / "order_writer.py"
    writer.write_text(writer.read_text() + "\n# mine now\n")
    result = runner.invoke(cli, ["status"])
    # Checked against the deploy (built-in); handlers/ is what `up` would deploy now.
    assert "Lambda function POC-Lambda-1: code from built-in handlers @" in result.output
    assert "pending: `up` would change handlers built-in -> handlers, from pocctl.toml" in (
        result.output
    )

    assert runner.invoke(cli, ["up"]).exit_code == 0
    result = runner.invoke(cli, ["status", "--json"])
    writer = json.loads(result.stdout)["resources"]["writer"]
    assert writer["code"]["source"] == "handlers"
    digest = writer["code"]["digest"]
    assert f"Lambda function POC-Lambda-1: code from handlers/ @ {digest}" in result.output
    assert code_sha256(package(handlers).archive("order_writer.handler")) == writer["code_sha256"]


def test_offline_a_compiled_dependency_built_for_another_python_is_explained(
    tmp_path: Path,
) -> None:
    handlers = own_handlers(tmp_path)
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "fastorder", extra={"_fastorder.so": b"\x7fELF not really"})
    (handlers / "requirements.txt").write_text(offline_requirements(wheels, "fastorder"))
    built = build_package(
        str(handlers),
        HANDLERS,
        runtime="python3.13",
        region="us-east-1",
        environments=ENVIRONMENTS,
        local_python="python3.11",
    )
    assert built.binary == ("fastorder",)
    (note,) = built.notes
    assert "Offline, your functions run on this machine's Python (python3.11)" in note
    assert "fastorder has compiled code built for python3.13 on Linux" in note
    assert 'set runtime = "python3.11" in pocctl.toml' in note


def test_a_handlers_directory_that_does_not_exist_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(PocctlError, match="Handlers directory nowhere does not exist"):
        build_package("nowhere", HANDLERS, runtime="python3.13", region="us-east-1")


@pytest.mark.slow  # heavy (tests/cases.py)
@pytest.mark.parametrize(
    ("runtime", "expected"),
    [
        ("python3.13", ("orderstamp==1.0", "stampcompat==1.0", "toplevelnew==1.0")),
        ("python3.11", ("oldbackport==1.0", "orderstamp==1.0")),
    ],
)
def test_dependencies_are_chosen_by_the_runtimes_markers_not_this_pythons(
    tmp_path: Path, runtime: str, expected: tuple[str, ...]
) -> None:
    # pip evaluates markers for the Python running it, whatever --python-version says
    # (pypa/pip#11664): each runtime gets what its own Python on Linux needs.
    handlers = own_handlers(tmp_path)
    wheels = tmp_path / "wheels"
    requires = (
        'stampcompat; python_version >= "3.12"',
        'oldbackport; python_version < "3.12"',
        'winonly; sys_platform == "win32"',
    )
    make_wheel(wheels, requires=requires)
    for name in ("stampcompat", "oldbackport", "winonly", "toplevelnew"):
        make_wheel(wheels, name)
    (handlers / "requirements.txt").write_text(
        offline_requirements(wheels, "orderstamp", "-r more-requirements.txt")
    )
    (handlers / "more-requirements.txt").write_text('toplevelnew; python_version >= "3.13"\n')
    built = package(handlers, runtime)
    assert built.dependencies == expected
    modules = {f"{d.split('==')[0]}.py" for d in expected}
    others = {"stampcompat.py", "oldbackport.py", "winonly.py", "toplevelnew.py"} - modules
    for archive in built.archives.values():
        assert modules <= names_in(archive) and not others & names_in(archive)


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_range_only_the_runtime_needs_holds_for_a_dependency_pip_chose_for_another(
    tmp_path: Path,
) -> None:
    # On this Python pip ignores appdep's marked range, and other's bare `capped` gets 2.0.
    handlers = own_handlers(tmp_path)
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "appdep", requires=('capped<2; python_version >= "3.12"',))
    make_wheel(wheels, "capped", "1.0")
    make_wheel(wheels, "capped", "2.0", stamp="capped-v2")
    make_wheel(wheels, "other", requires=("capped",))
    (handlers / "requirements.txt").write_text(offline_requirements(wheels, "appdep", "other"))
    built = package(handlers, "python3.13")
    assert built.dependencies == ("appdep==1.0", "capped==1.0", "other==1.0")
    writer = zipfile.ZipFile(io.BytesIO(built.archive("order_writer.handler")))
    assert b"stamped:" in writer.read("capped.py")
    assert package(handlers, "python3.11").dependencies[1] == "capped==2.0"  # no range there


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_hashed_lock_compiled_for_another_python_names_what_the_runtime_lacks(
    tmp_path: Path,
) -> None:
    handlers = own_handlers(tmp_path)
    wheels = tmp_path / "wheels"
    locked = make_wheel(wheels, requires=('stampcompat; python_version >= "3.12"',))
    make_wheel(wheels, "stampcompat")
    digest = hashlib.sha256(locked.read_bytes()).hexdigest()
    # As pip-compile --generate-hashes writes it on 3.11: stampcompat is not needed there.
    (handlers / "requirements.txt").write_text(
        offline_requirements(wheels, f"orderstamp==1.0 --hash=sha256:{digest}")
    )
    assert package(handlers, "python3.11").dependencies == ("orderstamp==1.0",)
    with pytest.raises(PocctlError) as failure:
        package(handlers, "python3.13")
    message = str(failure.value)
    assert 'orderstamp requires `stampcompat; python_version >= "3.12"`' in message
    assert "Nothing was uploaded" in message and "line 4" not in message
    assert "uv pip compile --python-version 3.13" in message


def test_executable_files_of_a_wheel_stay_executable_in_the_zip(tmp_path: Path) -> None:
    handlers = own_handlers(tmp_path)
    wheels = tmp_path / "wheels"
    make_wheel(wheels, executables={"orderstamp_bin/stamp-tool": b"#!/bin/sh\necho ok\n"})
    (handlers / "requirements.txt").write_text(offline_requirements(wheels, "orderstamp"))
    archive = zipfile.ZipFile(io.BytesIO(package(handlers).archive("order_writer.handler")))
    assert archive.getinfo("orderstamp_bin/stamp-tool").external_attr >> 16 == 0o755
    assert archive.getinfo("orderstamp.py").external_attr >> 16 == 0o644
    assert archive.getinfo("order_writer.py").external_attr >> 16 == 0o644


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_pure_python_package_published_only_as_source_is_built(tmp_path: Path) -> None:
    handlers = own_handlers(tmp_path)
    wheels = tmp_path / "wheels"
    make_sdist(wheels, "pureorder")
    (handlers / "requirements.txt").write_text(offline_requirements(wheels, "pureorder"))
    built = package(handlers)
    assert built.dependencies == ("pureorder==1.0",)
    writer = zipfile.ZipFile(io.BytesIO(built.archive("order_writer.handler")))
    assert b"built:" in writer.read("pureorder.py")


def test_a_compiled_package_published_only_as_source_is_refused_saying_what_to_do(
    tmp_path: Path,
) -> None:
    handlers = own_handlers(tmp_path)
    wheels = tmp_path / "wheels"
    make_sdist(wheels, "fastsource", compiled=True)
    (handlers / "requirements.txt").write_text(offline_requirements(wheels, "fastsource"))
    with pytest.raises(PocctlError) as failure:
        package(handlers)
    message = str(failure.value)
    assert "fastsource is published only as source, with compiled code" in message
    assert "Nothing was uploaded" in message
    assert "--find-links" in message


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_new_release_of_a_dependency_is_noticed_though_requirements_did_not_change(
    tmp_path: Path,
) -> None:
    handlers = own_handlers(tmp_path)
    wheels = tmp_path / "wheels"
    make_wheel(wheels)
    (handlers / "requirements.txt").write_text(offline_requirements(wheels, "orderstamp"))
    assert package(handlers).dependencies == ("orderstamp==1.0",)
    make_wheel(wheels, version="1.1", stamp="stamped-v2")
    built = package(handlers)
    assert built.dependencies == ("orderstamp==1.1",)
    writer = zipfile.ZipFile(io.BytesIO(built.archive("order_writer.handler")))
    assert b"stamped-v2" in writer.read("orderstamp.py")


class WheelIndex:
    """A --find-links URL serving a directory of wheels over HTTP, that can go away."""

    def __init__(self, wheels: Path) -> None:
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(wheels))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.mark.slow  # heavy (tests/cases.py)
def test_status_and_plans_never_run_pip_and_up_without_the_index_keeps_the_last_resolution(
    tmp_path: Path, runner: CliRunner, session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_RETRIES", "1")  # one retry: pip says why, without 5 back-offs
    handlers = own_handlers(tmp_path)
    wheels = tmp_path / "wheels"
    make_wheel(wheels)
    index = WheelIndex(wheels)
    try:
        (handlers / "requirements.txt").write_text(
            f"--no-index\n--find-links {index.url}\norderstamp\n"
        )
        deployed = runner.invoke(cli, ["up"])
        assert deployed.exit_code == 0, deployed.output
    finally:
        index.stop()
    pip = dependencies._run

    def no_pip(*args: Any) -> Any:
        raise AssertionError(f"pip ran: {args[0]}")

    monkeypatch.setattr(dependencies, "_run", no_pip)
    status = runner.invoke(cli, ["status"])
    assert status.exit_code == 0, status.output
    assert "Lambda function POC-Lambda-1: code from handlers/ @" in status.output
    assert "can't be packaged" not in status.output and "code changed" not in status.output

    monkeypatch.setattr(dependencies, "_run", pip)
    again = runner.invoke(cli, ["up"])
    assert again.exit_code == 0, again.output
    assert "pip could not reach the package index" in again.output
    assert "keeps what was last resolved for the same requirements" in again.output
    assert json.loads(runner.invoke(cli, ["up", "--json"]).stdout)["code"]["dependencies"] == [
        "orderstamp==1.0"
    ]


def test_status_says_what_to_do_when_requirements_were_never_installed_here(
    tmp_path: Path, runner: CliRunner, session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(cli, ["up"]).exit_code == 0
    handlers = own_handlers(tmp_path)
    assert runner.invoke(cli, ["up"]).exit_code == 0  # the stack now runs handlers/
    wheels = tmp_path / "wheels"
    make_wheel(wheels)
    (handlers / "requirements.txt").write_text(offline_requirements(wheels, "orderstamp"))
    monkeypatch.setattr(dependencies, "_run", None)  # calling pip would fail the test
    status = runner.invoke(cli, ["status"])
    assert status.exit_code == 0, status.output
    assert "has not been installed for python3.13 on this machine yet" in status.output
    assert "yet: `pocctl up` resolves and installs it" in status.output


@pytest.mark.slow  # heavy (tests/cases.py)
def test_two_ups_installing_the_same_dependencies_at_once_share_the_cache(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handlers = own_handlers(tmp_path)
    wheels = tmp_path / "wheels"
    make_wheel(wheels)
    (handlers / "requirements.txt").write_text(offline_requirements(wheels, "orderstamp"))
    # Both have missed the cache before either installs: the race, made certain.
    both_missed = threading.Barrier(2, timeout=60)
    pip = dependencies._pip

    def installing_together(*args: Any) -> Any:
        if "--no-deps" in args[2]:
            both_missed.wait()
        return pip(*args)

    monkeypatch.setattr(dependencies, "_pip", installing_together)
    results: list[Package | BaseException] = []

    def up() -> None:
        try:
            results.append(package(handlers))
        except BaseException as exc:  # reported below, in the test's thread
            results.append(exc)

    threads = [threading.Thread(target=up) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    first, second = results
    assert isinstance(first, Package) and isinstance(second, Package), results
    assert first.archives == second.archives and first.dependencies == ("orderstamp==1.0",)
    assert not [p for p in (cache / "dependencies").iterdir() if p.name.startswith(".")]
    assert len(list((cache / "dependencies").iterdir())) == 1


EXCEPT_WITHOUT_PARENTHESES = "try:\n    pass\nexcept ValueError, TypeError:\n    pass\n"


@pytest.mark.parametrize(
    ("source", "runtime", "refused"),
    [
        ("type Order = dict[str, str]\n", "python3.11", "line 1"),  # PEP 695 came in 3.12
        ("type Order = dict[str, str]\n", "python3.13", None),
        (EXCEPT_WITHOUT_PARENTHESES, "python3.13", "line 3"),  # PEP 758 came in 3.14
        (EXCEPT_WITHOUT_PARENTHESES, "python3.14", None),
    ],
)
def test_syntax_is_checked_in_the_runtimes_grammar_not_this_pythons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, runtime: str, refused: str | None
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-other-python"))  # only this machine's Python
    handler_check.runtime_python.cache_clear()
    handlers = own_handlers(tmp_path)
    (handlers / "shared.py").write_text(source)
    writer = handlers / "order_writer.py"
    writer.write_text(writer.read_text().replace("import boto3\n", "import boto3\nimport shared\n"))
    if refused:
        with pytest.raises(PocctlError, match=rf"handlers/shared\.py, {refused}: .*Nothing was"):
            package(handlers, runtime)
        return
    built = package(handlers, runtime)
    assert "shared.py" in names_in(built.archive("order_writer.handler"))
    if sys.version_info[:2] < handler_check.version_of(runtime):
        notes = "\n".join(built.notes)
        assert "handlers/shared.py, line" in notes and f"{runtime} may" in notes
        assert f"the functions run {runtime}: it is only a guide" in notes
        assert "(importing POC-Lambda-1's handler on Python" in notes  # not refused either


def python_of(version: str) -> str | None:
    """A working python<version> on this machine: on PATH, or one pyenv installed."""
    candidates = [
        shutil.which(f"python{version}"),
        *Path.home().glob(f".pyenv/versions/{version}*/bin/python{version}"),
    ]
    return next(
        (
            c
            for c in map(str, filter(None, candidates))
            if subprocess.run([c, "-V"], capture_output=True).returncode == 0
        ),
        None,
    )


def test_the_runtimes_own_python_settles_what_this_older_one_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = python_of("3.13")
    if sys.version_info[:2] >= (3, 13) or found is None:
        pytest.skip("needs a Python older than 3.13 running pocctl and python3.13 beside it")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.13").symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))
    handler_check.runtime_python.cache_clear()
    handlers = own_handlers(tmp_path)
    (handlers / "shared.py").write_text("type Order = dict[str, str]\n")
    built = package(handlers, "python3.13")
    assert not [n for n in built.notes if "not checked" in n]
    (handlers / "shared.py").write_text("ok = 1\ntype Order = dict[str, str] extra\n")
    with pytest.raises(PocctlError, match=r"handlers/shared\.py, line 2: invalid syntax"):
        package(handlers, "python3.13")


def test_a_runtime_python_that_crashes_is_no_verdict_on_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if sys.version_info[:2] >= (3, 12):
        pytest.skip("needs a Python older than 3.12 (which can't parse a type statement)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # Answers its version, then dies as a broken install would when asked to compile.
    fake = bin_dir / "python3.13"
    fake.write_text(
        '#!/bin/sh\ncase "$1" in -I) echo "Segmentation fault" >&2; exit 139;; esac\n'
        'echo "(3, 13)"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    handler_check.runtime_python.cache_clear()
    try:
        handlers = own_handlers(tmp_path)
        (handlers / "shared.py").write_text("type Order = dict[str, str] extra\n")
        notes = "\n".join(package(handlers, "python3.13").notes)
    finally:
        handler_check.runtime_python.cache_clear()
    assert "handlers/shared.py, line 1: not checked" in notes
    assert "failed to check it: Segmentation fault" in notes


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="typing.override is there from 3.12")
def test_a_standard_library_name_newer_than_this_python_is_not_refused(tmp_path: Path) -> None:
    handlers = own_handlers(tmp_path)
    writer = handlers / "order_writer.py"
    writer.write_text(
        writer.read_text().replace("import boto3\n", "import boto3\nfrom typing import override\n")
    )
    built = package(handlers, "python3.13")
    notes = "\n".join(built.notes)
    assert "cannot import name 'override' from 'typing'" in notes
    assert "python3.13 may not fail so: not refused" in notes
    with pytest.raises(PocctlError, match="cannot import name 'override'"):
        package(handlers, "python3.11")  # the runtime's own standard library lacks it too


@pytest.mark.parametrize(
    ("line", "runtime"),
    [("import annotationlib", "python3.14"), ("import dbm.sqlite3", "python3.13")],
)
def test_a_standard_library_module_newer_than_this_python_is_a_note_not_a_refusal(
    tmp_path: Path, line: str, runtime: str
) -> None:
    if sys.version_info[:2] >= handler_check.version_of(runtime):
        pytest.skip(f"this Python has {line.split()[1]}")
    handlers = own_handlers(tmp_path)
    writer = handlers / "order_writer.py"
    original = writer.read_text()
    writer.write_text(original.replace("import boto3\n", f"import boto3\n{line}\n"))
    notes = "\n".join(package(handlers, runtime).notes)
    assert "ModuleNotFoundError: No module named" in notes
    assert f"{runtime} may not fail so: not refused" in notes
    # A module in no standard library is still missing, whichever Python checks.
    writer.write_text(original.replace("import boto3\n", "import boto3\nimport ordersdk\n"))
    with pytest.raises(PocctlError, match=r"No module named 'ordersdk'.*Nothing was uploaded"):
        package(handlers, runtime)


@pytest.mark.slow  # heavy (tests/cases.py)
def test_a_requirements_file_that_only_names_another_installs_what_that_lists(
    tmp_path: Path, runner: CliRunner, session: Any
) -> None:
    """A requirements.txt of options and `-r ../base.txt` (the packages shared with other
    projects) installs what base.txt lists, as pip would."""
    handlers = own_handlers(tmp_path)
    wheels = tmp_path / "wheels"
    make_wheel(wheels)
    (tmp_path / "base.txt").write_text("# shared\norderstamp\n")
    (handlers / "requirements.txt").write_text(
        f"--no-index --find-links {wheels}\n-r ../base.txt  # the shared ones\n"
    )
    result = runner.invoke(cli, ["up", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["code"]["dependencies"] == ["orderstamp==1.0"]
    assert "1 dependency" in result.output


def test_a_requirements_file_only_naming_a_missing_file_is_an_error(tmp_path: Path) -> None:
    handlers = own_handlers(tmp_path)
    (handlers / "requirements.txt").write_text("-r base.txt\n")
    with pytest.raises(PocctlError, match=r"`-r base.txt` names .*base.txt, which does not exist"):
        package(handlers)


def test_a_requirements_file_naming_a_missing_file_is_an_error(tmp_path: Path) -> None:
    handlers = own_handlers(tmp_path)
    (handlers / "requirements.txt").write_text("-r base.txt\norderstamp\n")
    with pytest.raises(PocctlError, match=r"`-r base.txt` names .*base.txt, which does not exist"):
        package(handlers)


# Run by a Python newer than the runtime: refuse what the runtime's grammar lacks.
CHECK = """
import sys
from pathlib import Path
from pocctl.code.handler_check import HandlerError, check_sources
path = Path(sys.argv[1])
try:
    print(check_sources(path.parent, {}, [path], sys.argv[2]))
except HandlerError as exc:
    print(exc)
"""


@pytest.mark.parametrize(
    ("source", "refused"),
    [
        ("type Order = dict[str, str]\n", "line 1: Type statement is only supported in"),
        ('item = "mop"\ntext = f"{ {"item": item}["item"]}"\n', "line 2: f-strings written so"),
        ("text = f\"{'\\n'.join(['a', 'b'])}\"\n", "line 1: f-strings written so"),
    ],
)
def test_syntax_newer_than_the_runtime_is_refused_by_a_newer_python(
    tmp_path: Path, source: str, refused: str
) -> None:
    newer = sys.executable if sys.version_info >= (3, 12) else python_of("3.13")
    if newer is None:
        pytest.skip("needs Python 3.12 or later, running pocctl or beside it")
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    (handlers / "shared.py").write_text(source)

    def checked(runtime: str) -> str:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
        done = subprocess.run(
            [newer, "-c", CHECK, str(handlers / "shared.py"), runtime],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        return done.stdout.strip()

    message = checked("python3.11")
    assert f"handlers/shared.py, {refused}" in message and "Nothing was uploaded" in message
    assert "The functions run python3.11" in message
    assert checked("python3.13") == "[]"


def failing_pip(stderr: str) -> Any:
    """pip's resolution fails with this output; installing (from the cache) is not asked."""

    def run(command: list[str], requirements: Path) -> subprocess.CompletedProcess[str]:
        assert "--dry-run" in command, command
        return subprocess.CompletedProcess(command, 1, "", stderr)

    return run


RETRIED = (
    "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) "
    "after connection broken by 'ProtocolError('Connection aborted.', "
    "RemoteDisconnected('Remote end closed connection without response'))': /simple/orderstamp/\n"
)


def resolved_once(tmp_path: Path) -> Path:
    handlers = own_handlers(tmp_path)
    wheels = tmp_path / "wheels"
    make_wheel(wheels)
    (handlers / "requirements.txt").write_text(offline_requirements(wheels, "orderstamp"))
    assert package(handlers).dependencies == ("orderstamp==1.0",)
    return handlers


def test_a_resolution_failure_after_a_retried_connection_is_reported_not_taken_for_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handlers = resolved_once(tmp_path)
    conflict = (
        "ERROR: Cannot install orderstamp==1.0 because these package versions have conflicting "
        "dependencies.\nERROR: ResolutionImpossible: for help visit "
        "https://pip.pypa.io/en/latest/topics/dependency-resolution/\n"
    )
    monkeypatch.setattr(dependencies, "_run", failing_pip(RETRIED + conflict))
    with pytest.raises(dependencies.DependencyError) as raised:
        package(handlers)
    assert not isinstance(raised.value, dependencies.IndexUnreachable)
    assert "could not reach the package index" not in raised.value.message


@pytest.mark.slow  # heavy (tests/cases.py)
def test_up_without_the_index_says_so_at_every_build_of_a_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`up --watch` builds again in the same session: the fallback on the last resolution is
    not kept for it as if it were a fresh resolution."""
    handlers = resolved_once(tmp_path)
    monkeypatch.setattr(
        dependencies,
        "_run",
        failing_pip(RETRIED + "ERROR: No matching distribution found for orderstamp\n"),
    )
    resolutions: dependencies.Resolutions = {}
    for _ in range(2):
        built = build_package(
            str(handlers),
            HANDLERS,
            runtime="python3.13",
            region="us-east-1",
            environments=ENVIRONMENTS,
            resolutions=resolutions,
        )
        assert built.dependencies == ("orderstamp==1.0",)
        assert any("pip could not reach the package index" in note for note in built.notes)


def test_a_resolution_that_fails_to_be_written_leaves_no_temporary_file(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*_: Any, **__: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dependencies.json, "dump", full_disk)
    resolved = dependencies.Resolved(("orderstamp==1.0",), (), "k")
    with pytest.raises(OSError):
        dependencies._remember(b"orderstamp\n", "python3.13", resolved)
    assert list((cache / "resolutions").iterdir()) == []


def test_a_handler_that_hangs_at_import_is_stopped_at_its_functions_timeout(
    tmp_path: Path, runner: CliRunner, session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 21, item 11: reported after 60 s. An import longer than the function's timeout can
    # never finish on Lambda: its init phase gives up at 10 s, and the retry in the invocation
    # runs out of the timeout.
    assert handler_check.INIT_LIMIT_SECONDS == 10
    monkeypatch.setattr(handler_check, "INIT_LIMIT_SECONDS", 0.5)  # shortened for the test
    monkeypatch.setenv("POCCTL_WRITER_TIMEOUT", "1")
    handlers = own_handlers(tmp_path)
    writer = handlers / "order_writer.py"
    writer.write_text(writer.read_text() + "\nimport time\ntime.sleep(600)\n")
    result = runner.invoke(cli, ["up"])
    assert result.exit_code == 1
    assert "Importing POC-Lambda-1's handler from" in result.output
    assert "took over 1 s, the function's timeout" in result.output
    assert "Nothing was uploaded" in result.output and "Traceback" not in result.output


def test_an_import_past_the_init_limit_but_within_the_timeout_is_deployed_with_a_warning(
    tmp_path: Path, runner: CliRunner, session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lambda Developer Guide, execution environment lifecycle: past the 10 s limit, "Lambda
    # retries the Init phase at the time of the first function invocation with the configured
    # function timeout": it works on AWS, so `up` must not refuse it (review of item 11).
    # 10 s, shortened; longer than importing boto3 takes on a busy machine
    monkeypatch.setattr(handler_check, "INIT_LIMIT_SECONDS", 3.0)
    handlers = own_handlers(tmp_path)
    writer = handlers / "order_writer.py"
    writer.write_text(writer.read_text() + "\nimport time\ntime.sleep(3.5)\n")
    result = runner.invoke(cli, ["up"])
    assert result.exit_code == 0, result.output
    assert "note: Importing POC-Lambda-1's handler took " in result.output
    assert "s, over the 3 s Lambda gives a function's init phase" in result.output
    assert "within its 10 s timeout, so every cold start waits for it again" in result.output
    assert "Nothing was uploaded" not in result.output
