"""The emulator's rules get their callbacks as instance attributes: none may hide a method."""

from __future__ import annotations

from typing import Any

import pytest

from pocctl.local.aws.base import Rules
from pocctl.local.emulator import Emulator


def methods_of(cls: type) -> set[str]:
    return {
        name
        for klass in cls.__mro__
        if klass is not object
        for name, value in vars(klass).items()
        if callable(value) or isinstance(value, (staticmethod, classmethod, property))
    }


def wired_objects(emulator: Emulator) -> list[Any]:
    rules = [value for value in vars(emulator.aws).values() if isinstance(value, Rules)]
    return [*rules, emulator.aws, emulator.authorizer]


def test_no_callback_set_on_a_rules_instance_hides_one_of_its_methods() -> None:
    emulator = Emulator(port=0)  # built, not started: its wiring is done in __init__
    objects = wired_objects(emulator)
    assert len(objects) > 8  # every service's rules were found
    hidden = {
        f"{type(found).__name__}.{name}"
        for found in objects
        for name in set(vars(found)) & methods_of(type(found))
    }
    assert hidden == set()


def test_a_rules_subclass_defining_a_callbacks_name_is_refused_when_defined() -> None:
    with pytest.raises(TypeError, match="on_removed"):

        class Removing(Rules):
            def on_removed(self, region: str, arn: str, tags: dict[str, str]) -> None:
                pass
