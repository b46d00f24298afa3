"""The step graph is declared in one place: pocctl/stack.py says which step needs which."""

from __future__ import annotations

import ast
from pathlib import Path

import pocctl.resources
from pocctl.config import Config
from pocctl.resources.base import AnyStep
from pocctl.stack import build_steps

RESOURCES = Path(pocctl.resources.__file__).parent


def steps() -> list[AnyStep]:
    return build_steps(Config(stack="POC", region="us-east-1"))


def strings_in(source: Path) -> set[str]:
    """Every string literal of a module, docstrings left out."""
    tree = ast.parse(source.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    }


def test_no_resource_module_names_a_step_of_the_stack() -> None:
    """A resource module that named another step's key ("queue", "topic") would hide an edge of
    the graph from stack.py: each step gets its key and its dependencies from the stack."""
    keys = {step.key for step in steps()}
    named = {
        module.name: sorted(strings_in(module) & keys) for module in sorted(RESOURCES.glob("*.py"))
    }
    assert {module: found for module, found in named.items() if found} == {}


def test_the_stack_declares_every_edge_of_the_pipeline() -> None:
    """What `up` waits for before each step, and so the order it creates things in: written in
    stack.py alone, now that no step brings a default of its own."""
    assert {step.key: set(step.depends_on) for step in steps()} == {
        "boundary": set(),
        "writer-role": {"boundary"},
        "notifier-role": {"boundary"},
        "api-role": {"boundary"},
        "table": set(),
        "dlq": set(),
        "queue": {"dlq"},
        "failure-queue": set(),
        "topic": set(),
        "subscription": {"topic"},
        "writer-logs": set(),
        "notifier-logs": set(),
        "writer": {"writer-role", "writer-logs"},
        "notifier": {"notifier-role", "notifier-logs", "topic"},
        "queue-mapping": {"writer", "queue", "table"},
        "stream-mapping": {"notifier", "table", "failure-queue"},
        "api": {"queue", "api-role"},
    }
