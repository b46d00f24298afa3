from __future__ import annotations

import gc
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws
from moto.core.models import MockAWS

from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.reporting import RecordingReporter
from pocctl.core.session import new_session
from pocctl.local.emulator import Emulator
from pocctl.local.patches import prepare_for_threads
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps
from pocctl.resources import iam

from .emulated import TIMING
from .workers import default_workers

# Steps run side by side, in threads, on in-process moto too (see prepare_for_threads).
prepare_for_threads()

# A test process keeps half a million objects alive (botocore's and moto's service models, the
# emulators' state), and CPython's default thresholds walk them all in a full collection every
# few seconds: some 15% of its CPU. Younger collections still free the cycles a test leaves;
# a full one waits for some 20 million allocations instead of 70 thousand.
gc.set_threshold(10_000, 20, 100)

ACCOUNT = "123456789012"
# The environment as the test run found it, before any test hides the developer's AWS settings:
# only the real-account tests (`-m aws`) read it.
REAL_ENVIRONMENT = dict(os.environ)
REGION = "us-east-1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """The contexts a test made give their clients back once it is over, as a command's do
    when it ends: the next test takes them (a client costs some 3 ms of CPU, and its first
    calls more). Only those made on the test's own thread: one a thread the test started may
    still be in use. Contexts that fixtures made live on, for the tests that share them;
    make_ctx gives back its own at its teardown."""
    made: list[Context] = []
    init = Context.__dict__["__init__"]
    test_thread = threading.get_ident()

    def tracked(self: Context, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if threading.get_ident() == test_thread:
            made.append(self)

    Context.__init__ = tracked  # type: ignore[method-assign]
    try:
        yield
    finally:
        Context.__init__ = init  # type: ignore[method-assign]
        release_all(made)


def release_all(contexts: list[Context]) -> None:
    """Give back these contexts' clients; a failure is a warning, never in place of the test's
    own."""
    for context in contexts:
        try:
            context.release()
        except Exception as exc:
            warnings.warn(f"releasing a context's clients failed: {exc!r}", stacklevel=1)


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """The process is about to end: pytest's last full collection (to report an exception raised
    in a finaliser) would walk every object the tests left, some 3 s a worker. Frozen, they are
    not walked: an exception in a finaliser still pending at exit goes unreported (the tests'
    own collections, as they ran, still report theirs)."""
    gc.freeze()


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects any
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked long is slow too, so that the default run leaves it out; CI runs it beside
    its main session (.ci/run)."""
    for item in items:
        if item.get_closest_marker("long") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Three workers a core: much of the suite waits (AWS's clock, acted out at 1/50; a hop that
    must not arrive), and the other workers of a core fill that time. On this 2-core machine the
    default run took 118 s with 4 workers (189 s of CPU) and 107 s with 6 (201 s); 8 were slower
    than 6, as each worker collects the suite and warms its own botocore and moto: so no more
    than 4 beyond the cores on a larger machine. With 1,198 tests (4 December 2026), one run
    each: 147 s with 6 (285 s of CPU), 132 s with 5 (241 s), 143 s with 4 (244 s, 39 s idle);
    then, alternating, 158 s and 166 s with 6, 164 s and 167 s with 5: no difference beyond
    this machine's noise (runs of one count vary by 15%)."""
    wanted = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "")  # as pytest-xdist's hook does
    if wanted:
        try:
            return int(wanted)
        except ValueError:
            warnings.warn(
                f"PYTEST_XDIST_AUTO_NUM_WORKERS is not a number: {wanted!r}. Ignoring it.",
                stacklevel=1,
            )
    return default_workers()


@pytest.fixture(autouse=True)
def clean_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Tests never see the developer's real AWS settings, nor a pocctl.toml where they run."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("AWS_", "POCCTL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/pocctl-tests")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/pocctl-tests")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(autouse=True, scope="session")
def iam_propagation_at_test_scale() -> Iterator[None]:
    """The suite runs AWS's clock fifty times faster (emulated.TIMING): so does the time `up`
    gives IAM to apply a role's changes. For the whole session, so that a module's shared stack
    (made before any test's own fixtures) is not given AWS's full 10 s."""
    with pytest.MonkeyPatch.context() as session:
        session.setattr(iam, "IAM_PROPAGATION_SECONDS", iam.IAM_PROPAGATION_SECONDS * TIMING.scale)
        yield


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One `pocctl local` for a module's tests, acting out AWS's timing (emulated.TIMING). A module
    that needs another kind (its own clock, log or timing) defines its own `emulator`."""
    with Emulator(port=0, timing=TIMING, log=bugs_to_stderr) as running:
        yield running


def bugs_to_stderr(line: str) -> None:
    """The emulator's own failures, with their traceback, shown under the failing test (on the
    process's stderr: a CliRunner in progress must not take them into a command's output)."""
    if "failed in pocctl local" in line:
        print(line, file=sys.__stderr__)


# moto in this process (mock_aws) wipes every backend of the process as it starts and stops:
# beside a running emulator (its module's, say) it would empty that emulator under its pollers,
# and an emulator started inside it would empty moto's. Never both at the same time, then.
BOTH = (
    "in-process moto and pocctl local at the same time wipe each other's state: move this test "
    "to a module whose tests use no emulator"
)
start_moto, start_emulator = MockAWS.start, Emulator.start


def moto_alone(self: MockAWS, *args: Any, **kwargs: Any) -> None:
    if Emulator.running:
        raise RuntimeError(BOTH)
    start_moto(self, *args, **kwargs)


def emulator_alone(self: Emulator) -> None:
    if MockAWS._nested_count > 0:  # moto keeps no public flag
        raise RuntimeError(BOTH)
    start_emulator(self)


MockAWS.start = moto_alone  # type: ignore[method-assign]
Emulator.start = emulator_alone  # type: ignore[method-assign]

setup_default_session = boto3.setup_default_session


def default_session(**kwargs: Any) -> None:
    """boto3's default session (boto3.client), made as pocctl makes its sessions, reading AWS's
    service models with the process's one loader (new_session). moto drops the default session
    as each test's mock starts, and a session of its own parsed botocore's data again (its
    endpoints file, every model a test's clients use): some 2% of the suite's CPU."""
    if "botocore_session" in kwargs:
        setup_default_session(**kwargs)
    else:
        boto3.DEFAULT_SESSION = new_session(**kwargs)


boto3.setup_default_session = default_session


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


class Sleeps(list[float]):
    """A sleep that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


MakeContext = Callable[..., Context]


@pytest.fixture
def make_ctx(aws: None, sleeps: Sleeps) -> Iterator[MakeContext]:
    """Contexts on the test's mocked account; once the test is over, those made on its own
    thread give their clients back for the next test, as the contexts a test makes itself do
    (pytest_runtest_call)."""
    made: list[Context] = []
    test_thread = threading.get_ident()

    def make(stack: str = "POC", **config: Any) -> Context:
        context = Context(
            Config(stack=stack, region=REGION, **config),
            RecordingReporter(),
            session=new_session(region_name=REGION),
            sleep=sleeps,
        )
        if threading.get_ident() == test_thread:
            made.append(context)
        return context

    yield make
    release_all(made)


@pytest.fixture
def ctx(make_ctx: MakeContext) -> Context:
    return make_ctx()


@pytest.fixture
def deployed(ctx: Context) -> Context:
    """The default stack, fully up."""
    report = Engine(ctx, build_steps(ctx.config)).up()
    assert report.ok, report.results
    return ctx


def fresh(ctx: Context, **config: Any) -> Context:
    """A new context on the same (mocked) account: a second run, as from another terminal."""
    settings = {"stack": ctx.config.stack, "region": ctx.config.region, **config}
    return Context(Config(**settings), RecordingReporter(), session=ctx.session, sleep=ctx.sleep)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
