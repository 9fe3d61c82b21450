"""Webhooks that cannot be turned against us: URL and address rules, delivery, signatures.

Deliveries go to a real HTTP receiver on 127.0.0.1 (tests/webhook_receiver.py), which the
allow-list must name for anything to arrive there.
"""

import base64
import datetime as dt
import io
import json
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core import checks
from rest_framework.test import APIClient, APIRequestFactory
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from jobs import webhooks
from jobs.actors import deliver_webhook
from jobs.api.serializers import JobCreateSerializer
from jobs.events import event_payload
from jobs.models import Job
from jobs.webhook_models import WebhookSecret
from jobs.webhook_targets import AllowList, WebhookRefused, check_url
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
PUBLIC = "93.184.216.34"  # a public address, for names the tests make up
EVENT = {"job_id": "abc", "status": "completed"}

# The attacks from the issue, each with the reason it must be refused for.
ATTACKS = [
    ("http://127.0.0.1:{port}/hook", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://10.0.0.1/hook", "private"),
    ("http://[::1]:{port}/hook", "loopback"),
    ("http://0.0.0.0:{port}/hook", "unspecified"),
    ("http://[::]:{port}/hook", "unspecified"),
    ("http://[::ffff:127.0.0.1]:{port}/hook", "loopback"),
    ("http://user:pass@example.com/hook", "user name or password"),
    ("ftp://example.com/hook", "only http and https"),
    ("http://localhost:{port}/hook", "localhost resolves to .+, a loopback"),
]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture
def allow(settings) -> Callable[..., None]:
    """Set PHOTOPIPE_WEBHOOK_ALLOW for this test (the default is empty)."""

    def set_allow(*entries: str) -> None:
        settings.PHOTOPIPE = {**settings.PHOTOPIPE, "WEBHOOK_ALLOW": list(entries)}

    set_allow()
    return set_allow


@pytest.fixture
def user():
    return get_user_model().objects.create_user("alice", password="x" * 12)


@pytest.fixture
def dns() -> Iterator[dict[str, list[list[str]]]]:
    """Made-up names answered by a patched resolver: ``dns[name] = [answer, next answer, ...]``
    (each a list of addresses; the last one repeats). Other names resolve as usual."""
    answers: dict[str, list[list[str]]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        queue = answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    with mock.patch("socket.getaddrinfo", getaddrinfo):
        yield answers


def _upload(client: APIClient, image_bytes, webhook_url: str):
    upload = io.BytesIO(image_bytes("chelsea.png"))
    upload.name = "cat.png"
    return client.post(
        "/api/v1/jobs/", {"file": upload, "webhook_url": webhook_url}, format="multipart"
    )


# --- At upload --------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "reason"), ATTACKS)
def test_an_upload_naming_an_attack_url_is_refused_with_the_reason(
    url, reason, user, image_bytes, allow
):
    client = APIClient()
    client.force_authenticate(user)
    response = _upload(client, image_bytes, url.format(port=8000))
    assert response.status_code == 400, response.content
    assert re.search(reason, str(response.json()["webhook_url"]))
    assert not Job.objects.exists()


def test_an_upload_with_an_allow_listed_receiver_is_accepted(user, image_bytes, allow, receiver):
    allow("127.0.0.1/32")
    client = APIClient()
    client.force_authenticate(user)
    response = _upload(client, image_bytes, receiver.url())
    assert response.status_code == 202, response.content
    assert Job.objects.get().webhook_url == receiver.url()


def test_a_webhook_needs_an_account(image_bytes, allow):
    # Through the serializer: whether anonymous uploads reach it at all is the API's policy
    # (PHOTOPIPE_ANONYMOUS); when they do, a webhook is still refused, having no secret.
    allow("127.0.0.1/32")
    request = APIRequestFactory().post("/api/v1/jobs/")
    request.user = AnonymousUser()
    upload = io.BytesIO(image_bytes("chelsea.png"))
    upload.name = "cat.png"
    data = {"file": upload, "webhook_url": "http://127.0.0.1:9/hook"}
    create = JobCreateSerializer(data=data, context={"request": request})
    assert not create.is_valid()
    assert create.errors["webhook_url"] == ["webhooks need an account"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://224.0.0.1/", "multicast"),
        ("http://100.64.0.1/", "non-public"),  # shared address space (carrier NAT)
        ("http://[fe80::1%25eth0]/", "link-local"),
        ("http://[fd00::1]/", "private"),
        ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 wrapping 10.0.0.1
        ("http://2130706433/", "loopback"),  # 127.0.0.1 as one number
        ("http://0x7f.1/", "loopback"),
        ("http://@example.com/", "user name or password"),
        ("https://u@example.com/", "user name or password"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com/", "only http and https"),
    ],
)
def test_other_disguises_are_refused_too(url, reason):
    with pytest.raises(WebhookRefused, match=reason):
        check_url(url, AllowList(), resolve_timeout=2)


def test_a_public_name_passes_and_a_name_that_does_not_resolve_is_refused(dns):
    dns["hooks.example.com"] = [[PUBLIC]]
    assert check_url("https://hooks.example.com/x?y=1", AllowList(), resolve_timeout=2).path == (
        "/x?y=1"
    )
    with pytest.raises(WebhookRefused, match="does not resolve"):
        check_url("http://no-such-host.invalid/", AllowList(), resolve_timeout=2)


def test_a_name_resolving_to_any_refused_address_is_refused(dns):
    # A public address first, as a hostile name server would answer to pass a first-only check.
    dns["mixed.example.com"] = [[PUBLIC, "10.1.2.3"]]
    with pytest.raises(WebhookRefused, match="10.1.2.3, a private"):
        check_url("http://mixed.example.com/", AllowList(), resolve_timeout=2)


def test_the_allow_list_takes_names_and_networks_and_refuses_typos():
    allow = AllowList.parse(["Hooks.Internal.", "10.20.0.0/16", "::1", " "])
    assert allow.has_name("hooks.internal") and not allow.has_name("other.internal")
    assert check_url("http://10.20.3.4/", allow, resolve_timeout=1).host == "10.20.3.4"
    assert check_url("http://[::ffff:10.20.3.4]/", allow, resolve_timeout=1)
    assert check_url("http://[::1]/", allow, resolve_timeout=1)
    # Judged by the IPv4 address they carry: a NAT64 route to a public host is fine.
    assert check_url("http://[64:ff9b::808:808]/", AllowList(), resolve_timeout=1)
    with pytest.raises(WebhookRefused):
        check_url("http://10.21.0.1/", allow, resolve_timeout=1)
    with pytest.raises(ValueError, match="not a host name or network"):
        AllowList.parse(["10.0.0.0/33"])
    with pytest.raises(ValueError, match="not a host name or network"):
        AllowList.parse(["http://example.com"])


def test_a_bad_allow_list_fails_the_system_check(allow):
    allow("10.0.0.0/8", "not a host!")
    errors = [e for e in checks.run_checks() if e.id == "photopipe.E004"]
    assert len(errors) == 1 and "not a host!" in errors[0].msg
    allow("10.0.0.0/8", "hooks.internal")
    assert not [e for e in checks.run_checks() if e.id == "photopipe.E004"]


# --- At delivery ------------------------------------------------------------------------------


def test_a_delivery_is_signed_the_standard_webhooks_way(receiver, allow):
    allow("127.0.0.1/32")
    assert webhooks.deliver(receiver.url("/hook?a=1"), EVENT, secret=SECRET) == 204
    (hit,) = receiver.received
    assert hit.path == "/hook?a=1"
    assert Webhook(SECRET).verify(hit.body, hit.headers) == EVENT
    assert hit.headers["webhook-id"].startswith("msg_")
    assert abs(int(hit.headers["webhook-timestamp"]) - time.time()) < 5
    assert hit.headers["Host"] == f"127.0.0.1:{receiver.port}"
    assert "Authorization" not in hit.headers


def test_a_tampered_body_a_wrong_secret_or_a_stale_timestamp_fail_verification(
    receiver, allow
):
    allow("127.0.0.1/32")
    webhooks.deliver(receiver.url(), EVENT, secret=SECRET)
    (hit,) = receiver.received
    tampered = hit.body.replace(b"completed", b"failed")
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(SECRET).verify(tampered, hit.headers)
    other = "whsec_" + base64.b64encode(b"o" * 32).decode()
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(other).verify(hit.body, hit.headers)

    class SixMinutesLater(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime.now(tz) + dt.timedelta(minutes=6)

    # The same delivery replayed six minutes on: its timestamp is too old.
    with (
        mock.patch("standardwebhooks.webhooks.datetime", SixMinutesLater),
        pytest.raises(WebhookVerificationError, match="too old"),
    ):
        Webhook(SECRET).verify(hit.body, hit.headers)


def test_retries_of_one_event_share_its_id_and_other_events_do_not(receiver, allow):
    allow("127.0.0.1/32")
    webhooks.deliver(receiver.url(), EVENT, secret=SECRET)
    webhooks.deliver(receiver.url(), EVENT, secret=SECRET)
    webhooks.deliver(receiver.url(), {**EVENT, "status": "failed"}, secret=SECRET)
    first, retry, other = (hit.headers["webhook-id"] for hit in receiver.received)
    assert first == retry != other


@pytest.mark.parametrize(("url", "reason"), ATTACKS)
def test_each_attack_url_is_refused_at_delivery_and_nothing_is_sent(
    url, reason, receiver, allow
):
    with pytest.raises(WebhookRefused, match=reason):
        webhooks.deliver(url.format(port=receiver.port), EVENT, secret=SECRET)
    assert receiver.received == []


@pytest.mark.parametrize("code", [302, 307])
def test_a_redirect_is_a_failed_delivery_and_is_not_followed(code, allow):
    allow("127.0.0.1/32")
    with Receiver(redirect=code) as redirecting:
        with pytest.raises(webhooks.DeliveryFailed, match=f"{code}: redirects are not followed"):
            webhooks.deliver(redirecting.url(), EVENT, secret=SECRET)
        time.sleep(0.3)  # room for a follow-up request, were one ever sent
        assert [hit.path for hit in redirecting.received] == ["/hook"]


def test_an_error_status_raises_so_the_actor_retries(allow):
    allow("127.0.0.1/32")
    with Receiver(status=503) as failing, pytest.raises(webhooks.DeliveryFailed, match="503"):
        webhooks.deliver(failing.url(), EVENT, secret=SECRET)


def test_a_dripping_receiver_costs_the_deadline_not_minutes(allow):
    # One byte every 2 s satisfies any per-read timeout over 2 s, for about 18 minutes.
    allow("127.0.0.1/32")
    deadline = 3.0
    with Receiver(drip_every=2.0) as dripping:
        started = time.monotonic()
        with pytest.raises(webhooks.DeliveryFailed, match="within the 3 s deadline"):
            webhooks.deliver(dripping.url(), EVENT, secret=SECRET, deadline=deadline)
        elapsed = time.monotonic() - started
        assert len(dripping.received) == 1
    assert elapsed < deadline + 1.5


def test_the_deadline_setting_bounds_a_delivery(allow, settings):
    allow("127.0.0.1/32")
    settings.PHOTOPIPE = {**settings.PHOTOPIPE, "WEBHOOK_DEADLINE_S": 1.5}
    with Receiver(drip_every=2.0) as dripping:
        started = time.monotonic()
        with pytest.raises(webhooks.DeliveryFailed, match="deadline"):
            webhooks.deliver(dripping.url(), EVENT, secret=SECRET)
    assert time.monotonic() - started < 1.5 + 1.5


# --- DNS rebinding: the address connected to is what counts ----------------------------------


def test_a_name_that_rebinds_to_loopback_after_upload_is_refused_at_delivery(
    dns, receiver, allow
):
    url = f"http://rebind.example.com:{receiver.port}/hook"
    dns["rebind.example.com"] = [[PUBLIC], ["127.0.0.1"]]  # one answer, then another
    webhooks.check_upload_url(url)  # public at upload
    with pytest.raises(WebhookRefused, match="127.0.0.1, a loopback"):
        webhooks.deliver(url, EVENT, secret=SECRET)
    assert receiver.received == []


def test_an_allow_listed_name_still_needs_an_allowed_address(receiver, allow):
    url = receiver.url(host="localhost")
    allow("localhost")  # the name, not its network
    webhooks.check_upload_url(url)
    with pytest.raises(WebhookRefused, match="localhost resolves to .+, a loopback"):
        webhooks.deliver(url, EVENT, secret=SECRET)
    assert receiver.received == []
    allow("localhost", "127.0.0.0/8", "::1")  # wherever this machine's localhost points
    webhooks.deliver(url, EVENT, secret=SECRET)
    assert receiver.received[0].headers["Host"] == f"localhost:{receiver.port}"


def test_the_connected_peer_is_checked_not_only_what_the_name_resolved_to(dns, receiver, allow):
    # The name resolves to a public address, but the connection lands on loopback (a rebinding
    # resolver racing us, a NAT, a hostile route): only the peer check can see that.
    dns["sneaky.example.com"] = [[PUBLIC]]
    url = f"http://sneaky.example.com:{receiver.port}/hook"
    webhooks.check_upload_url(url)
    real_connect = socket.create_connection

    def lands_on_loopback(address, *args, **kwargs):
        assert address == (PUBLIC, receiver.port)  # what was checked is what was dialled
        return real_connect(("127.0.0.1", receiver.port), *args, **kwargs)

    with (
        mock.patch("jobs.webhooks.socket.create_connection", lands_on_loopback),
        pytest.raises(WebhookRefused, match="127.0.0.1, a loopback"),
    ):
        webhooks.deliver(url, EVENT, secret=SECRET)
    time.sleep(0.2)
    assert receiver.received == []


# --- TLS: the certificate is verified against the URL's name, not the address dialled -------


@pytest.fixture
def tls_pair(tmp_path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for "localhost", and a client context
    that trusts only it (in place of the system's CAs)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    return server, ssl.create_default_context(cafile=str(cert_path))


def test_https_verifies_the_certificate_against_the_url_name(tls_pair, allow):
    server_context, client_context = tls_pair
    allow("127.0.0.1/32")
    with (
        Receiver(tls=server_context) as secure,
        mock.patch("jobs.webhooks.ssl.create_default_context", return_value=client_context),
    ):
        webhooks.deliver(secure.url(host="localhost"), EVENT, secret=SECRET)
        assert Webhook(SECRET).verify(secure.received[0].body, secure.received[0].headers)
        # The same receiver by address: its certificate does not name 127.0.0.1.
        with pytest.raises(webhooks.DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED|match"):
            webhooks.deliver(secure.url(host="127.0.0.1"), EVENT, secret=SECRET)
    assert len(secure.received) == 1


def test_an_untrusted_certificate_fails_the_delivery(tls_pair, allow):
    server_context, _ = tls_pair
    allow("127.0.0.1/32")
    with (
        Receiver(tls=server_context) as secure,
        pytest.raises(webhooks.DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        webhooks.deliver(secure.url(host="localhost"), EVENT, secret=SECRET)
    assert secure.received == []


# --- The actor and the per-user secret --------------------------------------------------------


def test_the_actor_signs_with_the_owners_secret_made_on_first_use(
    submit, user, receiver, allow
):
    allow("127.0.0.1/32")
    job = submit(owner=user, webhook_url=receiver.url())
    assert not WebhookSecret.objects.exists()
    deliver_webhook(job.webhook_url, event_payload(job))
    (hit,) = receiver.received
    client = APIClient()
    client.force_authenticate(user)
    secret = client.get("/api/v1/account/webhook-secret/").json()["secret"]
    assert Webhook(secret).verify(hit.body, hit.headers)["job_id"] == str(job.pk)


def test_a_refused_address_is_final_and_a_failure_is_retried(submit, user, allow, caplog):
    job = submit(owner=user, webhook_url="http://127.0.0.1:9/hook")
    # Refused (not allow-listed): logged, and the actor returns, so Dramatiq does not retry.
    assert deliver_webhook(job.webhook_url, event_payload(job)) is None
    assert "refused, not retried" in caplog.text and "loopback" in caplog.text
    # A receiver that answers 503: the actor raises, so Dramatiq retries.
    allow("127.0.0.1/32")
    with Receiver(status=503) as failing, pytest.raises(webhooks.DeliveryFailed):
        deliver_webhook(failing.url(), event_payload(job))


def test_a_job_without_an_owner_is_never_delivered(submit, receiver, allow, caplog):
    allow("127.0.0.1/32")
    job = submit(owner=None, webhook_url=receiver.url())
    deliver_webhook(job.webhook_url, event_payload(job))
    assert receiver.received == [] and "no owner" in caplog.text


# --- The secret endpoints ---------------------------------------------------------------------


def test_a_user_reads_and_rotates_their_own_secret(user):
    client = APIClient()
    client.force_authenticate(user)
    first = client.get("/api/v1/account/webhook-secret/")
    assert first.status_code == 200 and first["Cache-Control"] == "no-store"
    secret = first.json()["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    assert client.get("/api/v1/account/webhook-secret/").json()["secret"] == secret
    rotated = client.post("/api/v1/account/webhook-secret/rotate/")
    assert rotated.status_code == 200 and rotated.json()["secret"] not in ("", secret)
    assert client.get("/api/v1/account/webhook-secret/").json() == rotated.json()

    other = APIClient()
    other.force_authenticate(get_user_model().objects.create_user("other", password="y" * 12))
    assert other.get("/api/v1/account/webhook-secret/").json()["secret"] != rotated.json()[
        "secret"
    ]


def test_the_secret_endpoints_need_an_account():
    anonymous = APIClient()
    assert anonymous.get("/api/v1/account/webhook-secret/").status_code in (401, 403)
    assert anonymous.post("/api/v1/account/webhook-secret/rotate/").status_code in (401, 403)
    assert not WebhookSecret.objects.exists()


# --- The payload ------------------------------------------------------------------------------


def test_the_payload_carries_no_storage_key(submit):
    job = submit()
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.COMPLETED, result_key=f"results/{job.pk}.jpg"
    )
    job.refresh_from_db()
    payload = event_payload(job)
    text = json.dumps(payload)
    assert job.result_key not in text and job.original_key not in text
    assert "result_key" not in payload and "original_key" not in payload
    assert payload["result"] == f"/api/v1/jobs/{job.pk}/result/"
