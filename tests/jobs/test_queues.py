"""Stage work and deliveries run on separate workers (jobs/queues.py)."""

import threading
import time
from unittest import mock

import dramatiq
import pytest

from jobs import stages
from jobs.management.commands.run_embedded import embedded_workers
from jobs.models import Job
from jobs.queues import DELIVERY_QUEUES, stage_worker_queues


def test_every_actor_queue_belongs_to_exactly_one_kind_of_worker():
    broker = dramatiq.get_broker()
    queues = {broker.get_actor(name).queue_name for name in broker.get_declared_actors()}
    stage_side, delivery_side = set(stage_worker_queues()), set(DELIVERY_QUEUES)
    assert queues == stage_side | delivery_side  # nothing left without a consumer
    assert not stage_side & delivery_side
    assert {stage.queue for stage in stages.STAGES} <= stage_side


@pytest.mark.django_db(transaction=True)
def test_a_stuck_webhook_delivery_does_not_hold_up_image_processing(
    stub_broker, submit, settings
):
    """One stage thread only, and a delivery that never ends: the job still completes."""
    settings.RABBITMQ_URL = ""  # embedded mode, as run_embedded
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "EMBEDDED_WORKER_THREADS": 1}
    release, delivering = threading.Event(), threading.Event()

    def stuck(url, payload):
        delivering.set()
        release.wait(120)  # longer than the job may take below: only a release ends it

    workers = embedded_workers(stub_broker)
    with mock.patch("jobs.webhooks.deliver_job_event", side_effect=stuck):
        stub_broker.get_actor("deliver_webhook").send("https://hooks.example/x", {"job_id": "x"})
        for worker in workers:
            worker.start()
        try:
            assert delivering.wait(10), "the delivery worker never took the webhook"
            job = submit()
            deadline = time.monotonic() + 20
            while Job.objects.get(pk=job.pk).status != Job.Status.COMPLETED:
                assert time.monotonic() < deadline, "the job waited behind the webhook"
                time.sleep(0.5)  # gently: on SQLite the worker threads share the file
            assert not release.is_set() and delivering.is_set()  # still stuck meanwhile
        finally:
            release.set()
            for worker in workers:
                worker.stop(timeout=10_000)


def test_only_workers_that_run_stages_start_the_filter_children(monkeypatch):
    from jobs.worker_boot import FilterIsolation

    started: list[int] = []
    monkeypatch.setattr("processing.configure_isolation", started.append)
    broker = dramatiq.get_broker()
    for queues, expected in ((None, [2]), (set(DELIVERY_QUEUES), []),
                             (set(stage_worker_queues()), [2])):
        started.clear()
        FilterIsolation().after_worker_boot(broker, dramatiq.Worker(
            broker, queues=queues, worker_threads=2))
        assert started == expected, queues
