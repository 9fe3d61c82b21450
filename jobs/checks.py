"""System checks (``manage.py check``): settings whose relations nothing else enforces.

photopipe.E001  the database attempt cap must exceed Dramatiq's retry budget
photopipe.E002  the reaper must wait longer than a stage may run
photopipe.E003  every stage of the registry must fit the database and write real Job fields
photopipe.E004  PHOTOPIPE_WEBHOOK_ALLOW must parse (a typo fails at start-up, not at an upload)
photopipe.E005  PHOTOPIPE_ANONYMOUS must be one of its modes
photopipe.E006  every throttle rate must be a rate DRF understands
photopipe.W001  the embedded secret key outside embedded mode
photopipe.W002  DEBUG outside embedded mode
"""

import re
from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register

from jobs import leases, stages, webhooks
from jobs.api.permissions import ANONYMOUS_MODES
from jobs.models import Job, StageRun


def _embedded() -> bool:
    """Embedded mode: the in-process broker (no RabbitMQ), one machine, local use."""
    return not settings.RABBITMQ_URL


@register()
def retry_budgets(**_: Any) -> list[Error]:
    conf = settings.PHOTOPIPE
    attempts, retries = conf["STAGE_MAX_ATTEMPTS"], conf["STAGE_MAX_RETRIES"]
    if attempts > retries:
        return []
    return [Error(
        f"PHOTOPIPE_STAGE_MAX_ATTEMPTS ({attempts}) must exceed PHOTOPIPE_STAGE_MAX_RETRIES "
        f"({retries})",
        hint="Dramatiq tries a message 1 + retries times; the attempt cap counted in the "
        "database is the backstop for messages that kill their worker, so it must be larger.",
        id="photopipe.E001",
    )]


@register()
def reaper_timeout(**_: Any) -> list[Error]:
    conf = settings.PHOTOPIPE
    longest_ms = max(stage.time_limit() for stage in stages.STAGES) + leases.LEASE_MARGIN_MS
    if conf["REAPER_TIMEOUT_S"] * 1000 > longest_ms:
        return []
    return [Error(
        f"PHOTOPIPE_REAPER_TIMEOUT_S ({conf['REAPER_TIMEOUT_S']} s) must exceed the longest "
        f"stage time limit plus its lease margin ({longest_ms / 1000:g} s)",
        hint="Otherwise the reaper re-sends stages that are still running.",
        id="photopipe.E002",
    )]


@register()
def stage_registry(**_: Any) -> list[Error]:
    errors = []
    job_fields = {field.name for field in Job._meta.get_fields()}
    name_room = StageRun._meta.get_field("stage").max_length
    for stage in stages.STAGES:
        if len(stage.name) > name_room:
            errors.append(Error(
                f"stage name {stage.name!r} is longer than {name_room} characters",
                id="photopipe.E003",
            ))
        unknown = sorted(set(stage.writes) - job_fields)
        if unknown:
            errors.append(Error(
                f"stage {stage.name!r} writes unknown Job fields: {', '.join(unknown)}",
                id="photopipe.E003",
            ))
    return errors


@register()
def webhook_allow_list(**_: Any) -> list[Error]:
    try:
        webhooks.allow_list()
    except ValueError as error:
        return [Error(f"PHOTOPIPE_WEBHOOK_ALLOW: {error}", id="photopipe.E004")]
    return []


# What DRF's SimpleRateThrottle.parse_rate accepts: "120/min", "30/m", "1000/day".
_RATE = re.compile(r"^\d+/[smhd][a-z]*$")


@register()
def access_settings(**_: Any) -> list[Error]:
    """A bad value stops the process with the reason instead of quietly meaning something
    else (an unknown anonymous mode, a rate DRF would misread)."""
    errors = []
    mode = settings.PHOTOPIPE_ANONYMOUS
    if mode not in ANONYMOUS_MODES:
        errors.append(Error(
            f"PHOTOPIPE_ANONYMOUS={mode!r} is not one of {', '.join(ANONYMOUS_MODES)}",
            hint='"off": every API call needs a user; "by-id": anonymous clients may upload '
            "and then read a job by its id.",
            id="photopipe.E005",
        ))
    rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
    for scope, rate in rates.items():
        if rate is not None and not _RATE.match(rate):
            errors.append(Error(
                f"throttle rate for {scope!r} is {rate!r}, not a rate like 120/min",
                hint=f"PHOTOPIPE_THROTTLE_{scope.upper()}: N/s, N/min, N/hour, N/day, or off",
                id="photopipe.E006",
            ))
    return errors


@register(deploy=False)
def embedded_only_settings(**_: Any) -> list[Warning]:
    if _embedded():
        return []
    warnings = []
    if settings.SECRET_KEY == settings.EMBEDDED_SECRET_KEY:
        warnings.append(Warning(
            "DJANGO_SECRET_KEY is the embedded default outside embedded mode",
            hint="Set DJANGO_SECRET_KEY to a long random value (sessions, tokens and signed "
            "URLs depend on it).",
            id="photopipe.W001",
        ))
    if settings.DEBUG:
        warnings.append(Warning(
            "DJANGO_DEBUG is on outside embedded mode",
            hint="Debug pages show tracebacks and settings; set DJANGO_DEBUG=0.",
            id="photopipe.W002",
        ))
    return warnings
