"""CloudWatch in the emulator: the services' metrics published each minute (metrics.py), the
metric alarms evaluated on them (alarms.py), on CloudWatch's minutes (AWS's clock, scaled).

What moto gets wrong about an alarm's state (PutMetricAlarm, Amazon CloudWatch API reference):
"When this operation creates an alarm, the alarm state is immediately set to INSUFFICIENT_DATA"
(moto: OK), and "When you update an existing alarm, its state is left unchanged" (moto starts it
over). SetAlarmState: "When the updated state differs from the previous value, the action
configured for the appropriate state is invoked" (API reference, SetAlarmState; moto only stores
the state).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC
from typing import Any

from pocctl.core.arns import Arn
from pocctl.local.aws.alarms import Alarms, TopicPolicy
from pocctl.local.aws.base import World
from pocctl.local.aws.metrics import Metrics
from pocctl.local.calls import Call
from pocctl.local.replies import Reply

TICK_SECONDS = 0.1  # how often the emulator looks whether a minute has ended (at most)
KEPT_MINUTES = 24 * 60  # datapoints older than a day are forgotten (no alarm looks that far)
INITIAL_REASON = "Unchecked: Initial alarm creation"


def _cloudwatch(account: str, region: str) -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[account][region]


class CloudWatch:
    def __init__(
        self,
        world: World,
        regions: set[str],
        log: Callable[[str], None],
        topic_policy: TopicPolicy = lambda topic: [],
    ) -> None:
        self.world = world
        self.regions = regions
        self.log = log
        self.metrics = Metrics(world)
        self.alarms = Alarms(
            self.metrics, world.account, self._publish, log, topic_policy, self._topic_key
        )
        self.closed = -1  # the last minute closed
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._kept: dict[tuple[str, str], tuple[Any, ...]] = {}  # an updated alarm's state
        self._set_from: dict[tuple[str, str], str] = {}  # an alarm's state before SetAlarmState

    # -- CloudWatch's minutes ------------------------------------------------------------
    def tick(self) -> None:
        """Close every minute that has ended: publish its metrics, evaluate the alarms."""
        timeline = self.metrics.timeline
        every = timeline.minutes("alarm_evaluation")
        with self._lock:
            for minute in range(self.closed + 1, timeline.minute()):
                regions = sorted(set(self.regions))
                self.metrics.close(minute, set(regions))
                if (minute + 1) % every == 0:
                    for region in regions:
                        self.alarms.evaluate_all(region, minute)
                if minute % 60 == 0:
                    self.metrics.forget_before(minute - KEPT_MINUTES)
                self.closed = minute

    def start(self) -> None:
        import moto.cloudwatch.models  # noqa: F401  (imported once, before threads race to it)

        every = min(TICK_SECONDS, self.metrics.timeline.length / 4)

        def run() -> None:
            while not self._stopped.wait(every):
                try:
                    self.tick()
                except Exception as exc:  # a bug of ours: in the log, and the next minute tries
                    self.log(f"CloudWatch in pocctl local failed: {exc!r}")

        self._thread = threading.Thread(target=run, daemon=True, name="pocctl-cloudwatch")
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _topic_key(self, topic: str) -> str:
        from moto.sns.models import sns_backends

        found = sns_backends[self.world.account][Arn.parse(topic).region].topics.get(topic)
        return str(getattr(found, "kms_master_key_id", "") or "")

    def _publish(self, region: str, topic: str, subject: str, message: str) -> None:
        self.world.client("sns", region).publish(
            TopicArn=topic, Subject=subject, Message=message, MessageStructure="json"
        )

    # -- what the emulator sees ------------------------------------------------------------
    def invoked(self, region: str, function: str, ok: bool, duration_ms: float) -> None:
        self.metrics.invoked(region, function, ok, duration_ms)

    def api_answered(
        self, region: str, api_id: str, stage: str, status: int, latency_ms: float
    ) -> None:
        from moto.apigateway.models import apigateway_backends

        api = apigateway_backends[self.world.account][region].apis.get(api_id)
        if api is not None:
            self.metrics.api_answered(region, (api.name, api_id), stage, status, latency_ms)

    def before(self, call: Call) -> None:
        if call.service == "cloudwatch" and call.operation == "SetAlarmState":
            name = str(call.params.get("AlarmName"))
            found = _cloudwatch(self.world.account, call.region).alarms.get(name)
            if found is not None:
                self._set_from[(call.region, name)] = found.state_value
        if call.service == "cloudwatch" and call.operation == "PutMetricAlarm":
            name = str(call.params.get("AlarmName"))
            found = _cloudwatch(self.world.account, call.region).alarms.get(name)
            if found is not None:
                self._kept[(call.region, name)] = (
                    found.state_value,
                    found.state_reason,
                    found.state_reason_data,
                    found.state_updated_timestamp,
                    found.history,
                )

    def after(self, call: Call, reply: Reply) -> None:
        self.metrics.sqs_called(call, reply)
        if call.service == "cloudwatch" and call.operation == "SetAlarmState":
            self._state_set(call, reply)
        if call.service != "cloudwatch" or call.operation != "PutMetricAlarm":
            return
        name = str(call.params.get("AlarmName"))
        kept = self._kept.pop((call.region, name), None)
        alarm = _cloudwatch(self.world.account, call.region).alarms.get(name)
        if not reply.ok or alarm is None:
            return
        if kept is None:
            alarm.state_value, alarm.state_reason = "INSUFFICIENT_DATA", INITIAL_REASON
            return
        (
            alarm.state_value,
            alarm.state_reason,
            alarm.state_reason_data,
            alarm.state_updated_timestamp,
            alarm.history,
        ) = kept

    def _state_set(self, call: Call, reply: Reply) -> None:
        name = str(call.params.get("AlarmName"))
        old = self._set_from.pop((call.region, name), None)
        alarm = _cloudwatch(self.world.account, call.region).alarms.get(name)
        if not reply.ok or alarm is None or old is None or alarm.state_value == old:
            return
        self.alarms.act(alarm, old, alarm.state_updated_timestamp.replace(tzinfo=UTC))
