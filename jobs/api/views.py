"""Job endpoints. Thin: validate, call a service, serialize."""

from collections.abc import Callable
from typing import Any

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

import processing
from jobs import idempotency, retention, services, similarity
from jobs.api import serializers as s
from jobs.api.filters import PAGE_PARAMS, JobFilter, refuse_unknown_params
from jobs.api.renderers import AnyMediaRenderer
from jobs.api.schema import errors
from jobs.api.uploads import receive_in_memory, upload_sha256
from jobs.downloads import Download, download_of
from jobs.limits import upload_limits
from jobs.models import Job, Preset, StageRun
from jobs.quotas import quota_check_upload
from jobs.selectors import jobs_visible_to

_JOB_EXAMPLE = {
    "id": "6f2d3c1e-8a41-4b8e-9a55-0d7c2f1b9e10",
    "url": "http://127.0.0.1:8000/api/v1/jobs/6f2d3c1e-8a41-4b8e-9a55-0d7c2f1b9e10/",
    "status": "queued", "stage": "resize", "failed_stage": None, "error": "",
    "steps": [{"name": "grayscale", "params": {}}], "output_format": "JPEG",
    "original": {"name": "astronaut.png", "format": "PNG", "width": 512, "height": 512,
                 "bytes": 473831},
    "result": None, "detections": None, "attempts": 0, "run": 1,
    "created_at": "2026-12-01T10:00:00Z", "started_at": None, "finished_at": None,
    "duration_seconds": None, "timeline": [],
    "links": {"self": "http://127.0.0.1:8000/api/v1/jobs/6f2d3c1e-8a41-4b8e-9a55-0d7c2f1b9e10/",
              "original": "http://127.0.0.1:8000/files/eyJqb2Ii.../", "result": None,
              "reprocess": "http://127.0.0.1:8000/api/v1/jobs/6f2d.../reprocess/",
              "cancel": "http://127.0.0.1:8000/api/v1/jobs/6f2d.../cancel/"},
}

_UPLOAD_RESPONSES = {
    202: OpenApiResponse(
        s.JobSerializer, description="Accepted: the job is queued; poll its url.",
        examples=[OpenApiExample("queued", value=_JOB_EXAMPLE, response_only=True,
                                 status_codes=["202"])],
    ),
    **errors(413, 415, 422),
}

# Set on an answer that repeats the stored answer of an earlier request with the same key.
REPLAYED_HEADER = "Idempotent-Replayed"

IDEMPOTENCY_KEY = OpenApiParameter(
    idempotency.HEADER, str, location=OpenApiParameter.HEADER, required=False,
    description="Any unique string (a UUID) per upload, for safe retries: a retry with the same "
    "key and the same request answers what the first did (status and body, with the header "
    f"`{REPLAYED_HEADER}: true`) and creates nothing; the same key with another request is a "
    "422. Per user, kept PHOTOPIPE_IDEMPOTENCY_TTL_H hours (24); needs an account (anonymous: "
    "400).",
)

_DISTANCE = OpenApiParameter(
    "distance", int, description="Most bits (of 64) a near-duplicate's perceptual hash may "
    f"differ in, 0-{similarity.MAX_DISTANCE}.", default=similarity.DEFAULT_DISTANCE,
)


# GET on an action answers what its POST does (the browsable API's page for the action).
_ACTION_DESCRIPTION = extend_schema(
    methods=["GET"], request=None,
    responses={200: OpenApiResponse(
        inline_serializer("ActionDescription", {
            "detail": serializers.CharField(), "job": serializers.UUIDField(),
            "status": serializers.CharField(), "method": serializers.CharField(),
        }),
        description="What a POST to this action does, for the job (no change is made).",
    )},
)

_RUNS = OpenApiParameter(
    "runs", str, enum=["all"], description="`all` adds `runs`: every run's timeline, newest "
    "first (the default shows the current run only).",
)


@extend_schema_view(
    list=extend_schema(description="Your jobs (staff: everyone's), newest first, paginated. "
                       "Any query parameter that is not a filter below is a 400."),
    retrieve=extend_schema(
        description="A job: status, current stage, timeline, detections.",
        parameters=[_RUNS],
    ),
)
class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Photo jobs: upload an image (POST, multipart field `file`), then poll and download.

    Jobs are read-only; `reprocess` and `cancel` are actions; DELETE removes a job and
    every file it stored. You see and act on your own jobs only (staff: all).
    """

    queryset = Job.objects.order_by("-created_at")
    filterset_class = JobFilter
    # What an anonymous client may do when PHOTOPIPE_ANONYMOUS=by-id (permissions.py): upload,
    # then read and download a job whose id it knows. Any other action is for users only.
    anonymous_actions = frozenset({"create", "retrieve", "result", "original"})
    # Every action refuses query parameters it does not read (400 naming them).
    strict_query_params = True

    def get_queryset(self) -> QuerySet[Job]:
        # The one ownership rule of every action, present and future: another user's job is
        # not in the queryset, so get_object() answers 404 for it.
        jobs = jobs_visible_to(self.request.user).order_by("-created_at")
        # The list shows summaries; only a single job carries its timeline.
        if self.action == "list":
            return jobs
        return jobs.prefetch_related("stage_runs")

    def get_serializer_class(self) -> type:
        return {
            "create": s.JobCreateSerializer,
            "reprocess": s.ReprocessSerializer,
            "cancel": s.EmptySerializer,
            "list": s.JobSummarySerializer,
            "similar": s.SimilarJobSerializer,
        }.get(self.action, s.JobSerializer)

    def filter_queryset(self, queryset: QuerySet[Job]) -> QuerySet[Job]:
        # Filters narrow the list; get_object() on the other actions must not apply them.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        if self.action == "create":
            # Before super().initial(): its CSRF check would parse (and spool) the whole body.
            refuse_oversized_body(request)
            receive_in_memory(request)
        super().initial(request, *args, **kwargs)
        # After authentication: a refused parameter is no hint to who may not call at all.
        refuse_unknown_params(request, self._query_params_read())

    def _query_params_read(self) -> set[str]:
        if self.action == "list":
            return set(JobFilter.base_filters) | PAGE_PARAMS
        if self.action == "similar":
            return {"distance"} | PAGE_PARAMS
        if self.action == "retrieve":
            return {"runs"}
        return set()

    @extend_schema(
        request={"multipart/form-data": s.JobCreateSerializer},
        responses=_UPLOAD_RESPONSES, parameters=[IDEMPOTENCY_KEY],
        description="Upload one image (multipart field `file`, exactly one) with optional "
        "steps, output_format and webhook_url. Answers 202 at once; the stages run in workers.",
    )
    def create(self, request: Request) -> Response:
        def upload() -> tuple[int, dict[str, Any]]:
            job = submit_upload(request, self.get_serializer(data=request.data))
            # Not read back (_job_data): the caller owns the job it just created, and a new
            # job has no attempts yet (a deduplicated one completes without any).
            job._prefetched_objects_cache = {"stage_runs": StageRun.objects.none()}
            context = self.get_serializer_context()
            return status.HTTP_202_ACCEPTED, s.JobSerializer(job, context=context).data

        code, body, replayed = idempotent(request, upload)
        headers = {"Location": str(body["url"])}
        if replayed:
            headers[REPLAYED_HEADER] = "true"
        return Response(body, status=code, headers=headers)

    @_ACTION_DESCRIPTION
    @extend_schema(methods=["POST"], request=s.ReprocessSerializer,
                   responses={202: s.JobSerializer, **errors(409)})
    @action(detail=True, methods=["get", "post"])
    def reprocess(self, request: Request, pk: str) -> Response:
        if request.method == "GET":
            return self._describe_action(
                "POST here to run the job again from its first stage, or from `from_stage` "
                "(the earlier stages' outputs are reused; failed and cancelled jobs keep "
                "none, so they restart from the first)."
            )
        params = self.get_serializer(data=request.data)
        params.is_valid(raise_exception=True)
        job, from_stage = self.get_object(), params.validated_data["from_stage"]
        job = services.job_reprocess(job_id=job.pk, from_stage=from_stage)
        return self._job_response(job, status.HTTP_202_ACCEPTED)

    @_ACTION_DESCRIPTION
    @extend_schema(methods=["POST"], request=None,
                   responses={200: s.JobSerializer, **errors(409)})
    @action(detail=True, methods=["get", "post"])
    def cancel(self, request: Request, pk: str) -> Response:
        if request.method == "GET":
            return self._describe_action(
                "POST here to cancel the job while it is queued or processing."
            )
        job = services.job_cancel(job_id=self.get_object().pk)
        return self._job_response(job, status.HTTP_200_OK)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        """Delete the job, its timeline and every stored image (an active job is cancelled
        first)."""
        retention.job_delete(job_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=[_DISTANCE], responses={
        200: s.SimilarJobSerializer(many=True), **errors(409),
    })
    @action(detail=True, methods=["get"])
    def similar(self, request: Request, pk: str) -> Response:
        """Near-duplicates of this job among yours: jobs whose perceptual hash differs in at
        most `distance` bits, nearest first (409 until the job's detect stage has run)."""
        job = self.get_object()
        distance = _distance(request)
        if job.phash is None:
            raise similarity.NotDetectedYet(
                f"the job has no perceptual hash yet: its detect stage has not run (it is "
                f"{job.status})"
            )
        jobs = similarity.jobs_similar_to(job, jobs_visible_to(request.user), distance)
        page = self.paginate_queryset(jobs)
        data = self.get_serializer(page, many=True).data
        return self.get_paginated_response(data)

    @extend_schema(responses={(200, "image/*"): bytes})
    @action(detail=True, methods=["get"], renderer_classes=[AnyMediaRenderer])
    def result(self, request: Request, pk: str) -> FileResponse:
        """Download the processed image (404 until the job is completed)."""
        job = self.get_object()
        download = download_of(job, "result")
        if download is None:
            raise NotFound(f"no result: the job is {job.status}")
        return _download(download)

    @extend_schema(responses={(200, "image/*"): bytes})
    @action(detail=True, methods=["get"], renderer_classes=[AnyMediaRenderer])
    def original(self, request: Request, pk: str) -> FileResponse:
        """Download the image as uploaded."""
        return _download(download_of(self.get_object(), "original"))

    def _describe_action(self, what: str) -> Response:
        """GET on an action: what a POST does, so the browsable API shows the action's form
        under a description instead of a 405 (the job must still be visible: 404 if not)."""
        job = self.get_object()
        return Response({"detail": what, "job": str(job.pk), "status": job.status,
                         "method": "POST"})

    def _job_response(self, job: Job, code: int) -> Response:
        return Response(self._job_data(job), status=code)

    def _job_data(self, job: Job) -> dict[str, Any]:
        job = self.get_queryset().get(pk=job.pk)
        return s.JobSerializer(job, context=self.get_serializer_context()).data


def submit_upload(request: Request, upload: s.JobCreateSerializer) -> Job:
    """Validate an upload form, check the caller's quota and submit the job (every upload
    route: the jobs API and the compatibility routes)."""
    upload.is_valid(raise_exception=True)
    data = upload.validated_data["file"]
    quota_check_upload(user=request.user, upload_bytes=len(data))
    received = request.data.get(upload.file_field)
    return services.job_submit(
        data=data,
        filename=getattr(received, "name", ""),
        sha256=upload_sha256(received),
        steps=upload.validated_data["steps"],
        output_format=upload.validated_data["output_format"],
        webhook_url=upload.validated_data["webhook_url"],
        owner=request.user,
    )


def idempotent(
    request: Request, create: Callable[[], tuple[int, dict[str, Any]]]
) -> tuple[int, dict[str, Any], bool]:
    """``create()``'s (status, body), or with an Idempotency-Key the answer stored for it
    (jobs/idempotency.py); the flag says the answer is a replay."""
    key = request.headers.get(idempotency.HEADER)
    if key is None:
        return (*create(), False)
    try:
        idempotency.check_key(key, request.user)
    except idempotency.KeyRefused as refusal:
        raise ValidationError({idempotency.HEADER: [str(refusal)]}) from None
    return idempotency.answered(
        user=request.user, key=key, print_=idempotency.fingerprint(request.data), create=create
    )


def refuse_oversized_body(request: Request) -> None:
    """413 from Content-Length, before Django spools a huge body to disk to parse it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    processing.check_byte_size(length - _FORM_OVERHEAD_BYTES, upload_limits())


def _distance(request: Request) -> int:
    text = request.query_params.get("distance", str(similarity.DEFAULT_DISTANCE))
    if not (text.isascii() and text.isdigit() and int(text) <= similarity.MAX_DISTANCE):
        raise ValidationError(
            {"distance": [f"must be a whole number from 0 to {similarity.MAX_DISTANCE}"]}
        )
    return int(text)


# Room for the multipart envelope and the other form fields around the file itself.
_FORM_OVERHEAD_BYTES = 64 * 1024


def _download(download: Download) -> FileResponse:
    if not default_storage.exists(download.key):
        raise NotFound("the stored image is missing")
    return FileResponse(
        default_storage.open(download.key, "rb"), content_type=download.content_type,
        filename=download.filename,
    )


class StepCatalogueView(APIView):
    """The filter steps a job may ask for, with their parameters, defaults and ranges."""

    anonymous_actions = frozenset({"get"})  # in by-id mode: what an uploader needs to know

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(processing.filter_catalogue())




class PresetListView(ListAPIView):
    """Named steps with an output format, managed in the admin; upload with `preset=NAME`."""

    anonymous_actions = frozenset({"get"})  # in by-id mode: what an uploader needs to know
    strict_query_params = True
    serializer_class = s.PresetSerializer
    queryset = Preset.objects.order_by("name")
    pagination_class = None  # a short list an operator keeps

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        super().initial(request, *args, **kwargs)
        refuse_unknown_params(request, set())
