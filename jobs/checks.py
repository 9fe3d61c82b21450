"""Start-up checks of Photopipe's access settings: a bad value stops the process, with the
reason, instead of quietly meaning something else."""

import re
from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from jobs.api.permissions import ANONYMOUS_MODES

# What DRF's SimpleRateThrottle.parse_rate accepts: "120/min", "30/m", "1000/day".
_RATE = re.compile(r"^\d+/[smhd][a-z]*$")


@register()
def check_access_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    mode = settings.PHOTOPIPE_ANONYMOUS
    if mode not in ANONYMOUS_MODES:
        errors.append(Error(
            f"PHOTOPIPE_ANONYMOUS={mode!r} is not one of {', '.join(ANONYMOUS_MODES)}",
            hint='"off": every API call needs a user; "by-id": anonymous clients may upload '
            "and then read a job by its id.",
            id="photopipe.E001",
        ))
    rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
    for scope, rate in rates.items():
        if rate is not None and not _RATE.match(rate):
            errors.append(Error(
                f"throttle rate for {scope!r} is {rate!r}, not a rate like 120/min",
                hint=f"PHOTOPIPE_THROTTLE_{scope.upper()}: N/s, N/min, N/hour, N/day, or off",
                id="photopipe.E002",
            ))
    return errors
