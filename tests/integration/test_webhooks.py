"""Webhooks delivered by a real `rundramatiq` worker, which allow-lists only 127.0.0.1."""

import io
import time

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from tests.integration.conftest import wait_for_terminal
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _upload(client: APIClient, image: bytes, webhook_url: str) -> str:
    upload = io.BytesIO(image)
    upload.name = "cat.png"
    response = client.post(
        "/api/v1/jobs/", {"file": upload, "webhook_url": webhook_url}, format="multipart"
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def test_a_worker_delivers_signed_webhooks_to_allow_listed_receivers_only(
    worker, image_bytes, settings
):
    # This process (the API) accepts both loopback receivers; the worker allow-lists only
    # 127.0.0.1 (conftest's WORKER_WEBHOOK_ALLOW), so the second delivery is refused where it
    # would be made: on the worker, against the address it connects to.
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "WEBHOOK_ALLOW": ["127.0.0.0/8"]}
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_user("hooks", password="x" * 12))
    image = image_bytes("chelsea.png")
    with Receiver("127.0.0.1") as allowed, Receiver("127.0.0.2") as elsewhere:
        delivered = _upload(client, image, allowed.url())
        refused = _upload(client, image, elsewhere.url(host="127.0.0.2"))
        assert wait_for_terminal(delivered).status == "completed"
        assert wait_for_terminal(refused).status == "completed"
        hits = allowed.wait_for(1, timeout=30)
        refusal = f"webhook of job {refused} refused, not retried"
        deadline = time.monotonic() + 30
        while refusal not in worker.output() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert refusal in worker.output(), worker.output()[-3000:]
        assert "127.0.0.2, a loopback address" in worker.output()
        assert elsewhere.received == []

    (hit,) = hits
    secret = client.get("/api/v1/account/webhook-secret/").json()["secret"]
    event = Webhook(secret).verify(hit.body, hit.headers)
    assert event["job_id"] == delivered and event["status"] == "completed"
    assert event["result"] == f"/api/v1/jobs/{delivered}/result/"
    assert "result_key" not in event
