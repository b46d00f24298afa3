"""The step graph is declared in one place: pocctl/pipeline/stack.py says which step needs which."""

from __future__ import annotations

import ast
from pathlib import Path

import pocctl.resources
from pocctl.core.config import Config
from pocctl.pipeline.stack import build_steps
from pocctl.resources.base import AnyStep

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
        "alarm-topic": set(),
        "alarm-subscription": {"alarm-topic"},
        "dead-letters-alarm": {"alarm-topic"},
        "stream-failures-alarm": {"alarm-topic"},
        "writer-errors-alarm": {"alarm-topic"},
        "notifier-errors-alarm": {"alarm-topic"},
        "iterator-age-alarm": {"alarm-topic"},
        "api-errors-alarm": {"alarm-topic"},
    }


def outputs_of_classes() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Per step class of pocctl/resources: which `ctx.outputs` fields its methods read, and
    which fields its `outputs` hands on (`Outputs(stream_arn=...)`)."""
    reads: dict[str, set[str]] = {}
    makes: dict[str, set[str]] = {}
    for module in RESOURCES.glob("*.py"):
        for cls in ast.walk(ast.parse(module.read_text())):
            if not isinstance(cls, ast.ClassDef):
                continue
            for node in ast.walk(cls):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "outputs"
                    and isinstance(node.value.value, ast.Name)
                    and node.value.value.id == "ctx"
                ):
                    reads.setdefault(cls.name, set()).add(node.attr)
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "Outputs"
                ):
                    makes.setdefault(cls.name, set()).update(k.arg for k in node.keywords if k.arg)
    return reads, makes


def classes_of(step: AnyStep) -> set[str]:
    return {cls.__name__ for cls in type(step).__mro__}


def test_a_step_reads_in_ctx_outputs_only_what_a_step_it_waits_for_hands_on() -> None:
    """A step that reads another's output (the stream mapping, the table's stream) without
    waiting for it would read None: the graph in stack.py must say so."""
    reads, makes = outputs_of_classes()
    built = steps()
    producers = {
        field: {s.key for s in built if classes_of(s) & {c for c, f in makes.items() if field in f}}
        for fields in makes.values()
        for field in fields
    }
    unwaited = {}
    for step in built:
        for field in set().union(*(reads.get(c, set()) for c in classes_of(step))):
            waits_for = set(step.depends_on) | set(step.plan_after)
            made_by = producers.get(field, set())
            if not made_by or not made_by <= waits_for:
                unwaited[step.key] = (field, made_by)
    assert reads, "no step reads ctx.outputs: the scan finds nothing to check"
    assert unwaited == {}
