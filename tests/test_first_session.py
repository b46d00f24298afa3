"""Issue 21, item 8: the README's quick start and first offline session run exactly as written, in
a fresh copy of the repository, on a machine that has only Python: no pocctl on PATH, no jq, no
AWS configuration, an empty home directory.

- The copy holds what a clone would: the files git tracks, and those it would add (untracked,
  not ignored), so uncommitted work is what is tested; no .venv, no pocctl.toml.
- The quick start's first command, parsed from README.md, runs as written with bash: it makes
  .venv, installs '.[local]' from the package index and runs the demo.
- The first session, parsed from README.md: the lines before the one that says "terminal 1"
  run in both terminals; that line runs in the background as terminal 1 (Ctrl-C, SIGINT, stops
  it at the end); every line after it is terminal 2, run in order with bash after the lines
  before it that set up the shell (`source`, `.`, `export`, `cd`), as a terminal keeps them.
  Each line must exit 0 and show its key output. The confirmation link `pocctl local mail`
  shows is opened as its reader would; `pocctl down`'s question gets "y" on a pseudo-terminal.
- If port 4566 is taken (another emulator, LocalStack), the session runs on a free port, as the
  README says to: `--port N` for `pocctl local` and `pocctl local mail`, N in AWS_ENDPOINT_URL.
- Then the first line of "Changing the code" (`pocctl init --handlers`) in the same directory,
  pocctl's repository, whose handlers/ is pocctl's own source.

Slow (a venv and a pip install, a few minutes, then a session with AWS's real durations); CI runs
it beside the other long tests (.ci/run)."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import ctrl_c
from .test_docs import ROOT, bash_block, quick_start

pytestmark = [pytest.mark.slow, pytest.mark.long, pytest.mark.timeout(2400)]

README_PORT = 4566
STATE = re.compile(r"^(source|\.|export|cd)\s")
# What each command of the session must show, besides exiting 0.
SHOWS = {
    r"^pocctl init$": ["Wrote "],
    r"^pocctl up\b": ["Stack POC is up", "Order endpoint: http://127.0.0.1:"],
    r"^pocctl local mail\b": ["Subject: AWS Notification - Subscription Confirmation"],
    r"^pocctl test-order\b": ["notified"],
    r"^pocctl status\b": ["POC-Lambda-1"],
    r"^pocctl logs\b": ["order_stored", "order_notified"],  # "what both functions printed"
    r"^pocctl outputs\b": ["order_url", "http://127.0.0.1:"],
    r"^pocctl down\b": ["nothing tagged pocctl:stack=POC is left"],
}
LINK = re.compile(r"http://127\.0\.0\.1:\d+/\S+Token=\S+")


def command_of(line: str) -> str:
    """The line without its comment (for matching only: bash runs the line itself)."""
    return re.sub(r"\s+#.*$", "", line).strip()


def fresh_copy(into: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def fresh_machine(home: Path) -> dict[str, str]:
    """Only Python: a python3 on PATH, no pocctl anywhere on it, a jq that is not there, an empty
    home. The network's settings (pip's index, certificates, proxies) are kept."""
    tools = home / "bin"
    tools.mkdir(parents=True)
    python = getattr(sys, "_base_executable", sys.executable)
    (tools / "python3").write_text(f'#!/bin/sh\nexec "{python}" "$@"\n')
    (tools / "jq").write_text('#!/bin/sh\necho "bash: jq: command not found" >&2\nexit 127\n')
    for tool in tools.iterdir():
        tool.chmod(0o755)
    path = [str(tools)] + [
        d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / "pocctl").exists()
    ]
    kept = {"LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"}
    env = {
        k: v
        for k, v in os.environ.items()
        if k in kept
        or k.startswith("PIP_")
        or k.lower() in {"http_proxy", "https_proxy", "no_proxy"}
    }
    return {
        **env,
        "PATH": os.pathsep.join(path),
        "HOME": str(home),
        # pip's download cache only: what it installs is the same, sooner.
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
        "NO_COLOR": "1",  # plain lines to read (rich's own switch; no behaviour changes)
    }


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def on_port(line: str, port: int) -> str:
    """The README's line for an emulator on another port, as the README says to."""
    line = line.replace(f"127.0.0.1:{README_PORT}", f"127.0.0.1:{port}")
    line = re.sub(r"\bpocctl local mail\b", f"pocctl local mail --port {port}", line)
    return re.sub(r"\bpocctl local(?= *(#|$))", f"pocctl local --port {port}", line)


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh copy of the repository after the quick start's first command, as written."""
    base = tmp_path_factory.mktemp("fresh")
    clone = fresh_copy(base / "pocctl")
    env = fresh_machine(base / "home")
    first = quick_start()[0]
    done = subprocess.run(
        ["bash", "-c", first], cwd=clone, env=env, capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, f"{first}\n{done.stdout}{done.stderr}"
    shown = done.stdout + done.stderr
    assert "Demo complete" in shown, shown
    # What AWS's clock refuses, pocctl explains as a wait: the emulator's line for it is noise.
    assert " refused: " not in shown, shown
    assert "interrupted test-order" not in shown, shown  # its own inbox, deleted moments ago
    return clone, env


@pytest.fixture
def terminal_1(machine: tuple[Path, dict[str, str]]) -> Iterator[tuple[list[str], list[str]]]:
    """Terminal 1 running (its lines as the README has them); yields them, and terminal 2's."""
    clone, env = machine
    lines = bash_block("A first session, offline")
    starts = [i for i, line in enumerate(lines) if "terminal 1" in line]
    assert len(starts) == 1, lines
    both, mine, theirs = lines[: starts[0]], lines[starts[0]], lines[starts[0] + 1 :]
    if not port_is_free(README_PORT):
        port = free_port()
        both, mine, theirs = (
            [on_port(x, port) for x in both],
            on_port(mine, port),
            [on_port(x, port) for x in theirs],
        )
    process = subprocess.Popen(
        ctrl_c.command("bash", "-c", "\n".join([*both, mine])),
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: Ctrl-C reaches all of it
    )
    output: list[str] = []
    listening = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for text in process.stdout:
            output.append(text)
            if "listening on" in text:
                listening.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while not listening.wait(0.2):
            assert process.poll() is None, f"{mine} stopped:\n{''.join(output)}"
            assert time.monotonic() < deadline, f"{mine} did not listen:\n{''.join(output)}"
        yield both, theirs
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_piped(script: str, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.returncode, done.stdout + done.stderr


def run_in_terminal(script: str, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """On a pseudo-terminal, answering "y" to the question it asks, as its user would."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        ["bash", "-c", script], cwd=cwd, env=env, stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    seen, answered, deadline = b"", False, time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            if select.select([leader], [], [], 0.5)[0]:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # EIO: the command is done and its terminal closed
                    break
                if not chunk:
                    break
                seen += chunk
                if not answered and b"[y/N]" in seen:
                    os.write(leader, b"y\n")
                    answered = True
            elif process.poll() is not None:
                break
        else:
            process.kill()
        process.wait(timeout=30)
    finally:
        os.close(leader)
    return process.returncode, seen.decode(errors="replace").replace("\r\n", "\n")


def test_the_readmes_first_session_runs_as_written_in_a_fresh_copy(
    machine: tuple[Path, dict[str, str]], terminal_1: tuple[list[str], list[str]]
) -> None:
    clone, env = machine
    both, theirs = terminal_1
    setup = list(both)
    ran = []
    for line in theirs:
        command = command_of(line)
        script = "\n".join([*setup, line])
        asks = re.match(r"^pocctl down\b", command) and not re.search(r"\s(--yes|-y)\b", command)
        code, output = (run_in_terminal if asks else run_piped)(script, clone, env)
        assert code == 0, f"`{line}` exited {code}:\n{output}"
        for pattern, shown in SHOWS.items():
            if re.match(pattern, command):
                for text in shown:
                    assert text in output, f"`{line}` did not show {text!r}:\n{output}"
        if command.startswith("pocctl local mail"):  # its reader opens the link
            found = LINK.search(output)
            assert found, output
            with urllib.request.urlopen(found.group(0), timeout=10) as response:
                assert response.status == 200
        if STATE.match(command):
            setup.append(line)
        ran.append(command.split(" --")[0])
    assert {"pocctl up", "pocctl test-order", "pocctl down"} <= set(ran), ran

    changing = next(line for line in bash_block("Changing the code") if "pocctl init" in line)
    code, output = run_piped("\n".join([*setup, changing]), clone, env)
    assert code == 0, f"`{changing}` exited {code}:\n{output}"
    assert (clone / "my-handlers" / "order_writer.py").is_file(), output
    assert (clone / "handlers" / "order_writer.py").read_bytes() == (
        ROOT / "handlers" / "order_writer.py"
    ).read_bytes()
