"""Contexts on a running `pocctl local` emulator, for the offline tests."""

from __future__ import annotations

import time
from typing import Any

from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.reporting import RecordingReporter
from pocctl.core.session import new_session
from pocctl.local.aws.sns import follow_confirmation_links
from pocctl.local.aws.timing import Timing
from pocctl.local.emulator import Emulator
from pocctl.pipeline.engine import Engine
from pocctl.pipeline.stack import build_steps

# AWS's asynchrony stays on in the offline tests, fifty times faster: a 7 s IAM propagation takes
# 0.14 s, so every rule still applies and the suite still meets it.
TIMING = Timing(scale=0.02)


class FreezableClock:
    """Real time until frozen: a test can keep AWS's transitions (DELETING, Deleting) where
    they are while it looks at them."""

    def __init__(self) -> None:
        self.frozen_at: float | None = None

    def __call__(self) -> float:
        return self.frozen_at if self.frozen_at is not None else time.monotonic()

    def freeze(self) -> None:
        self.frozen_at = time.monotonic()


def local_context(emulator: Emulator, stack: str, **config: Any) -> Context:
    session = new_session(
        aws_access_key_id="pocctl-local",
        aws_secret_access_key="pocctl-local",
        region_name="us-east-1",
    )
    return Context(
        Config(stack=stack, endpoint_url=emulator.endpoint_url, **config),
        RecordingReporter(),
        session=session,
    )


def up_local(emulator: Emulator, stack: str, **config: Any) -> Context:
    """The stack up, its email subscription confirmed from the mail, as its owner would."""
    ctx = local_context(emulator, stack, **config)
    earlier = len(emulator.outbox.messages)
    report = Engine(ctx, build_steps(ctx.config)).up()
    assert report.ok, [(r.title, r.error) for r in report.results if r.error]
    if ctx.config.email:
        follow_confirmation_links(emulator.outbox.messages[earlier:], ctx.config.email)
    return ctx


def until_mapping_is(lam: Any, uuid: str, state: str, seconds: float = 60.0) -> None:
    """Until the mapping's State is `state`: after an update it is Enabling, Disabling or
    Updating for a while on AWS's clock (timing rule mapping_updating), later on a busy machine."""
    deadline = time.monotonic() + seconds
    while (now := lam.get_event_source_mapping(UUID=uuid)["State"]) != state:
        assert now not in ("Enabled", "Disabled"), f"mapping {uuid} is {now}, not {state}"
        assert time.monotonic() < deadline, f"mapping {uuid} still {now} after {seconds} s"
        time.sleep(0.1)
