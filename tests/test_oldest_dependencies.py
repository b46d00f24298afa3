"""Issue 20, item 11: the oldest versions pyproject.toml accepts really work. A fresh venv gets
exactly the declared minimums (`boto3>=X` installs X) and pocctl from this checkout, and runs the
journey against `pocctl local`. The emulator runs from this test's own Python, as a process of its
own: moto may need a newer botocore than pocctl does.

Slow (a venv and a pip install, which needs the package index, then a journey); marked long:
CI runs it beside the main session (.ci/run)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.version import Version

from pocctl.code.bundle import bundled_dir

from . import ctrl_c
from .wheels import make_wheel, offline_requirements

# The timeout catches a hang, not slowness (speed is the benchmark's): CI runs this beside
# the rest of the suite on 2 cores, where these jobs took 4 to 5 minutes.
pytestmark = [pytest.mark.slow, pytest.mark.long, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parent.parent
LOWER_BOUND = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)>=(?P<version>[0-9][0-9A-Za-z.]*)$")


def declared_minimums() -> dict[str, str]:
    """Each runtime dependency's lowest accepted version, from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    minimums = {}
    for requirement in project["dependencies"]:
        found = LOWER_BOUND.match(requirement.replace(" ", "").split(",")[0])
        assert found, f"{requirement!r} declares no minimum version (name>=X)"
        minimums[found["name"].lower()] = found["version"]
    return minimums


def test_the_oldest_dependencies_declared_are_what_pocctl_needs() -> None:
    # botocore 1.35.23 added Tags to CreateEventSourceMapping (its CHANGELOG: "Tagging support
    # for Lambda event source mapping"); before it, `up` stops at the first mapping with
    # 'Unknown parameter in input: "Tags"'.
    minimums = declared_minimums()
    assert tuple(map(int, minimums["botocore"].split("."))) >= (1, 35, 23)
    assert tuple(map(int, minimums["boto3"].split("."))) >= (1, 35, 23)


@pytest.fixture(scope="module")
def oldest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with pocctl and exactly the minimum versions; its Python."""
    venv = tmp_path_factory.mktemp("oldest") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pins = [f"{name}=={version}" for name, version in declared_minimums().items()]
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(ROOT), *pins],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert installed.returncode == 0, f"pip install {' '.join(pins)}:\n{installed.stderr}"
    return python


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """`pocctl local` from this test's Python, in a process of its own, stopped by Ctrl-C (as
    bench/run.py's `local` starts one, but bench/ is a directory of scripts, not a package to
    import from)."""
    command = ctrl_c.pocctl("local", "--port", "0", "--time-scale", "0.05")
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline().decode()
        found = re.search(r"listening on (http://\S+)", banner)
        assert found, banner + process.stdout.read().decode()
        # Keep reading what it prints (a line per email): a full pipe would stall it.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield found[1]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def own_handlers(tmp_path: Path) -> Path:
    handlers = tmp_path / "handlers"
    shutil.copytree(bundled_dir("handlers"), handlers)
    wheels = tmp_path / "wheels"
    make_wheel(wheels)
    make_wheel(wheels, "winonly")
    (handlers / "requirements.txt").write_text(
        offline_requirements(
            wheels, 'orderstamp; python_version >= "3.11"', 'winonly; sys_platform == "win32"'
        )
    )
    return handlers


def test_the_journey_runs_on_the_oldest_dependencies(
    oldest: Path, endpoint: str, tmp_path: Path
) -> None:
    minimums = declared_minimums()
    check = "import json, sys; from importlib.metadata import version; "
    check += "print(json.dumps({n: version(n) for n in sys.argv[1:]}))"
    versions = subprocess.run([str(oldest), "-c", check, *minimums], capture_output=True, text=True)
    installed = json.loads(versions.stdout)
    assert {n: Version(v) for n, v in installed.items()} == {
        n: Version(v) for n, v in minimums.items()
    }, versions.stderr

    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "pocctl-local",
        "AWS_SECRET_ACCESS_KEY": "pocctl-local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "NO_COLOR": "1",
        # Own handlers with a requirements.txt whose markers the oldest `packaging` evaluates.
        "POCCTL_HANDLERS": str(own_handlers(tmp_path)),
        "POCCTL_CACHE_DIR": str(tmp_path / "cache"),
    }

    def pocctl(*args: str) -> str:
        command = [str(oldest), "-m", "pocctl", *args, "--stack", "oldest"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"pocctl {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout

    def document(*args: str) -> dict[str, object]:
        found: dict[str, object] = json.loads(pocctl(*args, "--json"))
        return found

    deployed = document("up", "--email", "oldest@example.com")
    counts = deployed["counts"]
    assert isinstance(counts, dict) and set(counts) == {"created"}, counts  # nothing failed
    code = deployed["code"]
    assert isinstance(code, dict) and code["dependencies"] == ["orderstamp==1.0"], code
    assert document("test-order")["ok"] is True
    assert document("status")["healthy"] is True
    assert document("invoke", "1")["ok"] is True
    assert document("redrive", "--dry-run")["ok"] is True
    assert document("ls")["ok"] is True
    assert "order_stored" in pocctl("logs")
    assert document("outputs")["ok"] is True
    assert document("down", "--yes")["left"] == []
