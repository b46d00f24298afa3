"""What every service's AWS behaviours share: the clock, the timing, the emulator's own clients."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pocctl.local.aws.timing import Timing
from pocctl.local.calls import Call
from pocctl.local.replies import Reply

ClientFor = Callable[[str, str], Any]  # (service, region) -> the emulator's own client


@dataclass
class World:
    timing: Timing
    client: ClientFor
    account: str
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    lock: threading.RLock = field(default_factory=threading.RLock)

    def after(self, rule: str, key: str = "") -> float:
        """The moment `rule`'s duration from now ends, for the resource `key` names."""
        return self.clock() + self.timing.seconds(rule, key)


class Rules:
    """One service's behaviours: refuse a call before moto sees it, or amend moto's answer."""

    services: tuple[str, ...] = ()
    # Callbacks set on each instance and wired from outside (AwsBehaviours). An instance
    # attribute hides a method of the same name, so a subclass's own `on_removed` would never
    # run: such a subclass is refused when it is defined.
    CALLBACKS = frozenset({"on_removed"})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        clash = Rules.CALLBACKS & set(vars(cls))
        if clash:
            raise TypeError(
                f"{cls.__name__} defines {', '.join(sorted(clash))}, the name of a callback "
                "attribute set on every instance, which would hide it"
            )

    def __init__(self, world: World) -> None:
        self.world = world
        # Told of a resource this service removes itself, late (region, ARN, tags): the tagging
        # API lists it for a while more (set by AwsBehaviours: TaggingRules.removed).
        self.on_removed: Callable[[str, str, dict[str, str]], None] = lambda *resource: None

    def before(self, call: Call) -> Reply | None:
        return None

    def after(self, call: Call, reply: Reply) -> Reply:
        return reply

    def tick(self) -> None:
        """Carry out what has come due (a deletion that finished, ...)."""
