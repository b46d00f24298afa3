"""Starting `pocctl`, or any program, as a terminal starts a command, for tests that press Ctrl-C.

A command a non-interactive shell starts in the background (`cmd &` in a script without job
control; `.ci/run` turns it on with `set -m`) ignores SIGINT (POSIX, Shell Command Language,
"Signals and Error Handling"), and so does every process it starts: Python then leaves SIGINT
ignored. A terminal's foreground command has it as default, and Python turns it into
KeyboardInterrupt; these tests start their programs that way, however the test run itself was
started."""

from __future__ import annotations

import sys

# Set back to default before exec, which keeps a default disposition (an ignored one it would
# keep ignored, and a non-interactive shell cannot trap or reset a signal ignored on entry):
# SIGINT, and SIGPIPE and SIGXFSZ, which Python ignores for itself (as subprocess's
# restore_signals resets them for a program it starts).
EXEC_AS_IN_A_TERMINAL = (
    "import os, signal, sys; "
    "[signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ)]; "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)


def command(*argv: str) -> list[str]:
    """The command line of any program, a shell say, started with Ctrl-C as in a terminal. The
    exec keeps the process, so Popen's pid (send_signal, killpg) is the program's own."""
    return [sys.executable, "-c", EXEC_AS_IN_A_TERMINAL, *argv]


def pocctl(*args: str) -> list[str]:
    """The command line of `python -m pocctl ARGS`, with Ctrl-C as in a terminal."""
    return command(sys.executable, "-m", "pocctl", *args)
