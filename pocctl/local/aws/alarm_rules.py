"""What CloudWatch refuses in a PutMetricAlarm that moto takes: a period it can't evaluate, a look
back too long, a missing-data treatment it doesn't know, "M out of N" with M over N.

The rules are botocore's cloudwatch model, PutMetricAlarm (the CloudWatch API reference's text):
- Period: "Valid values are 10, 20, 30, and any multiple of 60."
- "Period multiplied by EvaluationPeriods can't be more than 604,800 seconds. For alarms with a
  period of less than one hour (3,600 seconds), the total evaluation period can't be longer than
  one day (86,400 seconds)."
- TreatMissingData: "Valid Values: breaching | notBreaching | ignore | missing".
- DatapointsToAlarm: "The number of data points that must be breaching to trigger the alarm",
  out of EvaluationPeriods: AWS answers "ValidationError: DatapointsToAlarm must be less than or
  equal to EvaluationPeriods" (hashicorp/terraform#24070, where people hit it).
CloudWatch's query protocol names a refused value ValidationError (its model's error shape);
the wording of the other three refusals is not recorded: ours (inferred).
"""

from __future__ import annotations

from typing import Any

from pocctl.local.aws.base import Rules
from pocctl.local.calls import Call
from pocctl.local.replies import Reply, error

HIGH_RESOLUTION_PERIODS = (10, 20, 30)
ONE_HOUR = 3600
ONE_DAY = 86_400
SEVEN_DAYS = 7 * ONE_DAY
MISSING_DATA = ("breaching", "notBreaching", "ignore", "missing")
REFUSED = "ValidationError"


def _number(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def refused_alarm(params: dict[str, Any]) -> str | None:
    """Why CloudWatch refuses these PutMetricAlarm parameters, or None."""
    period = _number(params.get("Period"))
    evaluation = _number(params.get("EvaluationPeriods"))
    datapoints = _number(params.get("DatapointsToAlarm"))
    treat = params.get("TreatMissingData")
    if (
        period is not None
        and period not in HIGH_RESOLUTION_PERIODS
        and (period < 60 or period % 60)
    ):
        return f"Period must be 10, 20, 30 or a multiple of 60, got {period}."
    if period is not None and evaluation is not None:
        limit = ONE_DAY if period < ONE_HOUR else SEVEN_DAYS
        if period * evaluation > limit:
            return (
                f"The evaluation period (Period x EvaluationPeriods = {period * evaluation} "
                f"seconds) must not exceed {limit} seconds for a period of {period} seconds."
            )
    if treat is not None and treat not in MISSING_DATA:
        return (
            f"Value '{treat}' for TreatMissingData is not valid; valid values are "
            f"{', '.join(MISSING_DATA)}."
        )
    if datapoints is not None and evaluation is not None and datapoints > evaluation:
        return "DatapointsToAlarm must be less than or equal to EvaluationPeriods"
    return None


class AlarmRules(Rules):
    services = ("cloudwatch",)

    def before(self, call: Call) -> Reply | None:
        if call.operation != "PutMetricAlarm":
            return None
        why = refused_alarm(call.params)
        return None if why is None else error(call, 400, REFUSED, why)
