"""Short-lived download links that work without the API token (for <img> tags, browsers).

On S3 a job's links are presigned URLs: the bucket serves the bytes and checks signature and
expiry itself. With local files (embedded mode) they point at ``/files/<token>/``, a token
signed with Django's TimestampSigner over the job id and the object key, checked by
``signed_file`` below. Both live PHOTOPIPE_DOWNLOAD_URL_TTL_S seconds.
"""

import functools
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.core import signing
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

import processing
from jobs.models import Job
from jobs.s3_storage import S3Storage

Which = Literal["original", "result"]
_SALT = "photopipe.downloads"


@dataclass(frozen=True)
class Download:
    key: str
    content_type: str
    filename: str


def download_of(job: Job, which: Which) -> Download | None:
    """The stored object behind a job's original or result (None: no result yet)."""
    if which == "result":
        if job.status != Job.Status.COMPLETED or not job.result_key:
            return None
        name = f"{job.pk}.{processing.extension(job.output_format)}"
        return Download(job.result_key, processing.media_type(job.output_format), name)
    name = job.original_name or f"{job.pk}.{processing.extension(job.original_format)}"
    return Download(job.original_key, processing.media_type(job.original_format), name)


def signed_url(job: Job, which: Which, request: HttpRequest | None = None) -> str | None:
    """A link to the object that anyone holding it may fetch until it expires."""
    download = download_of(job, which)
    if download is None:
        return None
    ttl = settings.PHOTOPIPE["DOWNLOAD_URL_TTL_S"]
    if not isinstance(default_storage, FileSystemStorage):
        return _presigning_storage(settings.PHOTOPIPE["S3_PUBLIC_ENDPOINT_URL"]).url(
            download.key, expire=ttl, parameters={
                "ResponseContentType": download.content_type,
                "ResponseContentDisposition": content_disposition_header(
                    as_attachment=False, filename=download.filename
                ),
            },
        )
    token = signing.TimestampSigner(salt=_SALT).sign_object(
        {"job": str(job.pk), "key": download.key}
    )
    path = reverse("signed-file", kwargs={"token": token})
    return request.build_absolute_uri(path) if request else path


@functools.cache
def _presigning_storage(public_endpoint: str) -> Storage:
    """The S3 storage with the endpoint clients use: SigV4 signs the host, so the URL must be
    made for the public host (presigning is local computation; that host need not be
    reachable from here)."""
    if not public_endpoint or public_endpoint == settings.AWS_S3_ENDPOINT_URL:
        return default_storage
    return S3Storage(endpoint_url=public_endpoint)


@require_GET
def signed_file(request: HttpRequest, token: str) -> HttpResponse:
    """Serve a local object named by a signed token: 403 tampered, 410 expired, 404 gone."""
    try:
        claim = signing.TimestampSigner(salt=_SALT).unsign_object(
            token, max_age=settings.PHOTOPIPE["DOWNLOAD_URL_TTL_S"]
        )
    except signing.SignatureExpired:
        return _error(410, "this download link has expired; fetch the job again for a new one",
                      "link_expired")
    except signing.BadSignature:
        return _error(403, "invalid download link", "bad_signature")
    job = Job.objects.filter(pk=claim.get("job")).first()
    # The job may have been deleted, or reprocessed (no result until it completes again).
    for which in ("original", "result"):
        download = download_of(job, which) if job else None
        if download and download.key == claim.get("key") and default_storage.exists(
            download.key
        ):
            return FileResponse(
                default_storage.open(download.key, "rb"),
                content_type=download.content_type, filename=download.filename,
            )
    return _error(404, "the file is gone", "not_found")


def _error(status: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)
