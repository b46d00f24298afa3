"""The command group: the one table of commands, each loaded only when it is run or its help
shown, and the one place where errors become messages and exit codes.

Starting must stay fast (`pocctl --help` and `--version` in well under 0.15 s), so this module
imports click and nothing heavy: no boto3, no rich, no command module."""

from __future__ import annotations

import atexit
import gc
import importlib
import os
from typing import Any, NamedTuple

import click

from pocctl import __version__
from pocctl.cli.document import COMMAND, WANTS_JSON, Finished
from pocctl.core.errors import Interrupted

ARGV = "pocctl.argv"


class Registered(NamedTuple):
    """A command: where its function is ("module:function") and the one line `pocctl --help`
    shows for it, which must say what the function's docstring says (a test checks)."""

    target: str
    summary: str


# Every command, by name, in the order `pocctl --help` lists them (click's: by name).
COMMANDS: dict[str, Registered] = {
    "config": Registered(
        "pocctl.cli.config:show_config",
        "Show every setting's effective value and where it came from.",
    ),
    "cost": Registered(
        "pocctl.cli.cost:cost_command",
        "Show what the stack costs a month, per service, for N orders and when idle.",
    ),
    "demo": Registered(
        "pocctl.cli.demo:demo",
        "Run the whole pipeline offline: start an emulator, up, test-order, show the email, down.",
    ),
    "deployer-policy": Registered(
        "pocctl.cli.deployer_policy:deployer_policy_command",
        "Print the IAM policy that lets a user or CI role run up, down, status, logs, outputs "
        "and test-order for this stack, and nothing else (policies/deployer.json, with this "
        "account, region and stack filled in).",
    ),
    "down": Registered(
        "pocctl.cli.down:down",
        "Delete every resource of the stack, then sweep the region to confirm nothing is left.",
    ),
    "export": Registered(
        "pocctl.cli.export:export_command",
        "Write the stack `up` would build as a CloudFormation or SAM template, with the "
        "functions' code beside it, for a platform team or a CI pipeline to deploy with the "
        "standard tools.",
    ),
    "init": Registered(
        "pocctl.cli.config:init",
        "Write a commented pocctl.toml in this directory; with --handlers, also your own copy "
        "of the Lambda code.",
    ),
    "invoke": Registered(
        "pocctl.cli.invoke:invoke_command",
        "Run function 1 (the writer) or 2 (the notifier) once, as the console's Test button "
        "does: print what it returned and the tail of its log (`aws lambda invoke --log-type "
        "Tail`).",
    ),
    "local": Registered(
        "pocctl.cli.local:local",
        "Run an AWS emulator on 127.0.0.1 where the pipeline really runs (Ctrl-C stops it).",
    ),
    "logs": Registered(
        "pocctl.cli.logs:logs",
        "Print the functions' CloudWatch log lines, both interleaved by time.",
    ),
    "ls": Registered(
        "pocctl.cli.ls:ls_command",
        "List every pocctl stack in the region (or every enabled region): what is still running?",
    ),
    "outputs": Registered(
        "pocctl.cli.outputs:outputs",
        "Print the stack's order URL and resource names, for scripts with --json.",
    ),
    "redrive": Registered(
        "pocctl.cli.redrive:redrive_command",
        "Move the orders in the dead-letter queue back to the order queue, once Lambda-1 is fixed.",
    ),
    "status": Registered(
        "pocctl.cli.status:status",
        "Show every resource of the stack and how the pipeline is doing.",
    ),
    "test-order": Registered(
        "pocctl.cli.testorder:test_order",
        "Post an order and prove it is accepted, stored and notified.",
    ),
    "up": Registered(
        "pocctl.cli.up:up",
        "Create the pipeline, or repair it: run it again and it changes only what drifted.",
    ),
}


class PocctlGroup(click.Group):
    """Turns domain and AWS errors into `Error: ...` lines; `--debug` shows the traceback.
    A command run with --json gets its one JSON document printed here, success or failure,
    a usage error included (which click finds before --json's own callback has run).

    Commands come from COMMANDS, each module imported when its command is first asked for
    (click's "Lazily Loading Subcommands"); the listing in `--help` reads the table alone."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._loaded: dict[str, click.Command] = {}
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        """Every command, loaded: for what inspects them all (the docs, the tests)."""
        for name in COMMANDS:
            self._loaded_command(name)
        return self._loaded

    @commands.setter
    def commands(self, given: dict[str, click.Command]) -> None:
        self._loaded = dict(given)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._loaded_command(cmd_name)

    def _loaded_command(self, name: str) -> click.Command | None:
        if name not in self._loaded and name in COMMANDS:
            self._loaded[name] = load(COMMANDS[name])
        return self._loaded.get(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, from each command's summary in COMMANDS, without loading it."""
        if not COMMANDS:
            return
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, click.Command(name, help=entry.summary).get_short_help_str(limit))
            for name, entry in COMMANDS.items()
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        argv = list(args)  # click's parser consumes the list
        try:
            click_ctx = super().make_context(info_name, argv.copy(), parent, **extra)
        except click.UsageError as exc:  # `pocctl --json up`, `pocctl --bogus --json`
            if asks_for_json(argv):
                from pocctl.cli.ui import print_json

                print_json({"ok": False, "command": None, "error": exc.format_message()})
            raise
        click_ctx.meta[ARGV] = argv
        return click_ctx

    def invoke(self, click_ctx: click.Context) -> Any:
        document: dict[str, Any] = {}
        try:
            result = super().invoke(click_ctx)
            if isinstance(result, Finished):
                document = result.document
                if result.failure is not None:
                    raise result.failure
        except click.exceptions.Exit as exc:
            finish_json(click_ctx, document, exit_error(exc.exit_code))
            raise
        except click.ClickException as exc:
            if isinstance(exc, click.UsageError) and asks_for_json(click_ctx.meta.get(ARGV, [])):
                click_ctx.meta[WANTS_JSON] = True
            finish_json(click_ctx, document, exc.format_message())
            raise
        except click.Abort:
            finish_json(click_ctx, document, "Aborted.")
            raise
        except KeyboardInterrupt:
            from pocctl.cli.failures import as_click_error  # boto3's errors: loaded on failure

            error = as_click_error(Interrupted("Interrupted."))
            finish_json(click_ctx, document, error.format_message())
            raise error from None
        except Exception as exc:
            from pocctl.cli.failures import as_click_error

            error = as_click_error(exc)
            finish_json(click_ctx, document, error.format_message())
            if click_ctx.meta.get("pocctl.debug") or os.environ.get("POCCTL_DEBUG"):
                raise
            raise error from None
        finish_json(click_ctx, document, None)
        return result


def load(entry: Registered) -> click.Command:
    module, _, name = entry.target.partition(":")
    command = getattr(importlib.import_module(module), name)
    if not isinstance(command, click.Command):
        raise TypeError(f"{entry.target} is not a click command")
    return command


def exit_error(code: int) -> str | None:
    if code == 0:
        return None
    return "Interrupted." if code == Interrupted.exit_code else f"exit {code}"


def asks_for_json(argv: list[str]) -> bool:
    """--json anywhere on the command line (before a `--`)."""
    return "--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv


def finish_json(click_ctx: click.Context, document: dict[str, Any], error: str | None) -> None:
    """Print the command's one JSON document, if it was asked for with --json."""
    if not click_ctx.meta.pop(WANTS_JSON, False):
        return
    from pocctl.cli.ui import print_json  # rich: loaded only for the command that prints

    command = {"command": click_ctx.meta.get(COMMAND) or click_ctx.invoked_subcommand}
    print_json({"ok": error is None, **command, **document, **({"error": error} if error else {})})


@click.group(cls=PocctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pocctl")
@click.option(
    "--debug", is_flag=True, help="Show the full traceback of an error (for bug reports)."
)
@click.pass_context
def cli(click_ctx: click.Context, debug: bool) -> None:
    """Build, prove and remove the AWS serverless order pipeline from the hands-on lab.

    \b
      POST /order -> API Gateway -> SQS -> Lambda-1 -> DynamoDB
                  -> DynamoDB Streams -> Lambda-2 -> SNS (email)

    \b
    Typical use:
      pocctl up --email you@example.com   build it (run again: changes nothing)
      pocctl outputs                      the order URL and resource names
      pocctl invoke 1                     run Lambda-1 once with a sample event
      pocctl down                         remove everything `up` made

    AWS settings follow the usual rules: --profile/AWS_PROFILE, --region/AWS_REGION,
    --endpoint-url/AWS_ENDPOINT_URL. Every command takes --stack to work on another copy.
    """
    click_ctx.meta["pocctl.debug"] = debug


def main() -> None:
    # As the process ends, CPython's last garbage collections walk every object still alive:
    # botocore's models, moto's state in `pocctl local`, a hundred thousand objects after
    # `status`. Frozen, they are skipped: `status` took 0.87 s of CPU instead of 1.10, `outputs`
    # 0.55 instead of 0.76; `pocctl local`, after an up and a down, 2.6 s instead of 3.6, and it
    # ends 0.1 s after Ctrl-C instead of 0.8. Every atexit handler still runs, and every object
    # freed by its reference count is freed as before. But an object in a reference cycle is not
    # collected at exit, and its finalizer (`__del__`, a weakref callback, a file's flush on
    # close) does not run: what must happen as pocctl ends belongs in atexit, `finally` or
    # `with`, as it is today (the emulator's stop, the fork server's close, temporary directories).
    atexit.register(gc.freeze)
    cli(prog_name="pocctl")
