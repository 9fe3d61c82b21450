"""System checks: relations between settings that nothing else enforces."""

import pytest

from jobs import checks, stages
from jobs.stage_work import StageOutput


def _ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_the_default_settings_pass_every_check():
    assert checks.retry_budgets() == []
    assert checks.reaper_timeout() == []
    assert checks.stage_registry() == []


def test_the_attempt_cap_must_exceed_the_retry_budget(settings):
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "STAGE_MAX_ATTEMPTS": 5, "STAGE_MAX_RETRIES": 5}
    assert _ids(checks.retry_budgets()) == ["photopipe.E001"]
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "STAGE_MAX_ATTEMPTS": 6}
    assert checks.retry_budgets() == []


def test_the_reaper_must_wait_longer_than_a_stage_may_run(settings):
    settings.PHOTOPIPE = {
        **settings.PHOTOPIPE, "STAGE_TIME_LIMIT_MS": 120_000, "REAPER_TIMEOUT_S": 120,
    }
    (error,) = checks.reaper_timeout()
    assert error.id == "photopipe.E002" and "125 s" in error.msg


def test_a_stage_writing_an_unknown_job_field_is_an_error(monkeypatch):
    broken = stages.Stage("sepia", lambda job, source, control: StageOutput(), writes=("tint",))
    monkeypatch.setattr(stages, "STAGES", (*stages.STAGES, broken))
    (error,) = checks.stage_registry()
    assert error.id == "photopipe.E003" and "tint" in error.msg


@pytest.mark.parametrize(
    ("rabbitmq_url", "debug", "expected"),
    [
        ("", True, []),  # embedded mode on one's own machine: both are fine
        ("amqp://rabbitmq", True, ["photopipe.W001", "photopipe.W002"]),
        ("amqp://rabbitmq", False, ["photopipe.W001"]),
    ],
)
def test_embedded_defaults_outside_embedded_mode_are_warned_about(
    settings, rabbitmq_url, debug, expected
):
    settings.RABBITMQ_URL, settings.DEBUG = rabbitmq_url, debug
    settings.SECRET_KEY = settings.EMBEDDED_SECRET_KEY
    assert _ids(checks.embedded_only_settings()) == expected
    settings.SECRET_KEY = "a-long-random-value-from-the-environment-" * 2
    assert "photopipe.W001" not in _ids(checks.embedded_only_settings())
