"""One command's Lambda control-plane calls stay under Lambda's 15 requests a second (Lambda
Developer Guide, "Lambda quotas"), whatever its threads do at once."""

from __future__ import annotations

from pocctl.core.aws import none_if_absent
from pocctl.core.config import Config
from pocctl.core.context import Context
from pocctl.core.pacing import Pacer
from pocctl.core.reporting import RecordingReporter
from pocctl.core.session import new_session

from .conftest import REGION


def test_lambda_control_plane_calls_take_turns_twelve_a_second(aws: None) -> None:
    # AWS's time, not this machine's: the clock moves only when pocctl pauses, so a loaded
    # machine's slow calls can't change what is measured.
    now = [0.0]
    paused: list[float] = []

    def pause(seconds: float) -> None:
        paused.append(seconds)
        now[0] += seconds

    ctx = Context(
        Config(region=REGION),
        RecordingReporter(),
        session=new_session(region_name=REGION),
        sleep=pause,
        clock=lambda: now[0],
    )
    lam = ctx.client("lambda")
    for _ in range(20):  # outside the quota (GetFunction has 100 a second of its own)
        assert none_if_absent(lambda: lam.get_function(FunctionName="absent")) is None
    assert paused == []
    sent = []
    for _ in range(30):
        lam.list_functions()
        sent.append(now[0])
    # The first twelve go at once; then never more than twelve in any second.
    assert sent[:12] == [0.0] * 12 and sent[12] > 0.0
    assert max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent) == 12
    assert 2.0 <= now[0] < 3.0  # 30 calls at twelve a second: two seconds of pauses


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
