"""The README's command reference, made from the commands' own help so it cannot drift from them.

`python -m pocctl.cli.reference` rewrites the table between README.md's two markers;
`--check` only says whether it differs (tests/test_docs.py runs that check).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click

START = "<!-- commands:start -->"
END = "<!-- commands:end -->"
UPDATE = "python -m pocctl.cli.reference"
# The options every AWS command takes, described once above the table.
SHARED = frozenset({"stack", "region", "profile", "endpoint_url", "quiet", "verbose"})


def entries(
    group: click.Group, click_ctx: click.Context, path: str = ""
) -> Iterator[tuple[click.Context, str]]:
    """Each command (and each subcommand of a group) with its click context and full name."""
    for name in group.list_commands(click_ctx):
        command = group.get_command(click_ctx, name)
        if command is None or command.hidden:
            continue
        sub = click.Context(command, info_name=name, parent=click_ctx)
        yield sub, f"{path}{name}"
        if isinstance(command, click.Group):
            yield from entries(command, sub, f"{path}{name} ")


def own_options(command: click.Command) -> list[click.Parameter]:
    """The command's parameters but --help, and the shared AWS options of an AWS command."""
    aws = any(param.name == "stack" for param in command.params)
    return [
        param
        for param in command.params
        if param.name != "help" and not (aws and param.name in SHARED)
        if not getattr(param, "hidden", False)
    ]


def placeholder(param: click.Parameter) -> str:
    """What stands for the value: its metavar, its choices, its default (`--timeout 60`) when
    that is one word, else its name."""
    if param.metavar:
        return param.metavar
    if isinstance(param.type, click.Choice):
        return "|".join(str(choice) for choice in param.type.choices)
    default = param.default if isinstance(param, click.Option) and param.show_default else None
    if isinstance(default, int | float | str) and not isinstance(default, bool):
        shown = f"{default:g}" if isinstance(default, float) else str(default)
        if shown and " " not in shown:
            return shown
    return (param.name or "value").upper()


def synopsis(name: str, command: click.Command) -> str:
    """`pocctl up [--email EMAIL] [--dry-run]`: the one-line usage, with what each value is."""
    words = [f"pocctl {name}"]
    for param in own_options(command):
        if isinstance(param, click.Argument):
            words.append(placeholder(param))
            continue
        assert isinstance(param, click.Option)
        flag = max(param.opts, key=len)
        value = "" if param.is_flag else f" {placeholder(param)}"
        if param.is_flag or param.default is not None or not param.required:
            words.append(f"[{flag}{value}]")
        else:
            words.append(f"{flag}{value}")
    return " ".join(words)


def prose(command: click.Command) -> str:
    """The help's paragraphs as one line; its verbatim blocks (the examples) left out."""
    text = (command.help or "").split("\f")[0]
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    kept = [p for p in paragraphs if not p.lstrip().startswith("\b")]
    return " ".join(" ".join(p.split()) for p in kept)


def option_help(click_ctx: click.Context, param: click.Parameter) -> str:
    """ "`--dry-run`: Show what would change; write nothing.", with click's [default: ...]."""
    record = param.get_help_record(click_ctx)
    if record is None or not record[1].strip():
        return ""
    names, text = record
    shown = ", ".join(f"`{part.split(' ')[0]}`" for part in names.split(", "))
    return f"{shown}: {' '.join(text.split())}"


def row(click_ctx: click.Context, name: str) -> str:
    command = click_ctx.command
    options = [option_help(click_ctx, param) for param in own_options(command)]
    # One option a line: a table cell holds no Markdown line break, but HTML's.
    text = "<br>".join(cell(part) for part in [prose(command), *options] if part)
    return f"| `{cell(synopsis(name, command))}` | {text} |"


def cell(text: str) -> str:
    """A Markdown table cell: a `|` would end it (also inside code spans, in GitHub's tables),
    and outside code spans `<stack>` would be taken for an HTML tag."""
    parts = text.replace("|", "\\|").split("`")
    for i in range(0, len(parts), 2):  # the parts outside code spans
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def table(group: click.Group) -> str:
    with click.Context(group, info_name="pocctl") as click_ctx:
        rows = [row(sub, name) for sub, name in entries(group, click_ctx)]
    return "\n".join(["| command | what it does |", "| --- | --- |", *rows])


def rewritten(readme: str, group: click.Group) -> str:
    """The README with the table between the markers made anew."""
    before, start, rest = readme.partition(START)
    _, end, after = rest.partition(END)
    if not start or not end:
        raise ValueError(f"README.md has no {START} ... {END} markers")
    return f"{before}{START}\n{table(group)}\n{END}{after}"


def main(argv: list[str]) -> int:
    from pocctl.cli import cli

    readme = Path(argv[argv.index("--readme") + 1] if "--readme" in argv else "README.md")
    current = readme.read_text(encoding="utf-8")
    wanted = rewritten(current, cli)
    if "--check" in argv:
        if wanted != current:
            print(f"{readme}'s command table differs from the commands' help: run `{UPDATE}`.")
            return 1
        return 0
    readme.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
