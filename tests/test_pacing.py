"""One command's Lambda control-plane calls stay under Lambda's 15 requests a second (Lambda
Developer Guide, "Lambda quotas"), whatever its threads do at once."""

from __future__ import annotations

from pocctl.aws import none_if_absent
from pocctl.pacing import Pacer

from .conftest import MakeContext, Sleeps


def test_lambda_control_plane_calls_take_turns_twelve_a_second(
    make_ctx: MakeContext, sleeps: Sleeps
) -> None:
    lam = make_ctx().client("lambda")
    for _ in range(20):  # outside the quota (GetFunction has 100 a second of its own)
        assert none_if_absent(lambda: lam.get_function(FunctionName="absent")) is None
    for _ in range(30):
        lam.list_functions()
    # The first twelve go at once; each later one waits until twelve are a second old.
    assert len(sleeps) == 18
    assert all(0.5 < pause <= 1.0 for pause in sleeps[:12])
    assert all(1.5 < pause <= 2.0 for pause in sleeps[12:])


def test_a_pacer_never_lets_more_than_its_count_through_in_any_second() -> None:
    now = [0.0]
    sent: list[float] = []

    def pause(seconds: float) -> None:
        now[0] += seconds

    pacer = Pacer(12, 1.0, lambda: now[0], pause, frozenset({"GetFunction"}))
    for i in range(100):
        pacer.wait_turn("GetFunction" if i % 3 == 0 else "ListTags")
        if i % 3:
            sent.append(now[0])
        now[0] += 0.01
    assert max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent) == 12
