"""The routes of the systems Photopipe replaces, so their clients work unchanged.

Thin adapters: the same upload (submit_upload: validation, quota, services.job_submit), the
same jobs, the same authentication, throttles and ownership rules as /api/v1/jobs/; only the
field names and the answers' shapes are the seeds'. With PHOTOPIPE_ANONYMOUS=by-id, clients
that send no token work as they did.

    POST /upload            file          -> 202 {"job_id"}
    GET  /status/{id}                     -> {"status", "step", "label", "file"}
    POST /api/v1/analyze    file          -> 202 {"task_id", "status": "processing"}
    GET  /api/v1/tasks/{id}               -> {"task_id", "status", "result_url", "error"}
    POST /api/process/      image, filters -> 202 the job (as /api/v1/jobs/{id}/)
"""

from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.api import serializers as s
from jobs.api.schema import errors
from jobs.api.uploads import receive_in_memory
from jobs.api.views import refuse_oversized_body, submit_upload
from jobs.downloads import signed_url
from jobs.models import Job
from jobs.selectors import jobs_visible_to

_SEED_STATUS = {
    Job.Status.QUEUED: "QUEUED", Job.Status.PROCESSING: "PROCESSING",
    Job.Status.COMPLETED: "COMPLETED", Job.Status.FAILED: "FAILED",
    Job.Status.CANCELLED: "FAILED",  # the seeds had no cancelling: a cancelled job never ends
}
_TASK_STATUS = {**_SEED_STATUS, Job.Status.QUEUED: "PENDING"}


class ProcessSerializer(s.JobCreateSerializer):
    """The seed's /api/process/ form: the image in `image`, the filter steps in `filters`."""

    file_field = "image"
    file = None
    steps = None
    image = serializers.FileField(help_text="The image: JPEG, PNG, WebP, GIF or TIFF.")
    filters = s.StepsField(
        source="steps", required=False, default=list,
        help_text='Filter steps, as `steps` of /api/v1/jobs/: "grayscale,sharpen" or JSON.',
    )

    def validate_image(self, upload: Any) -> bytes:
        return self.validate_file(upload)


class _Upload(APIView):
    # As the jobs API's `create`: the upload throttle and by-id anonymous access apply.
    action = "create"
    anonymous_actions = frozenset({"create"})
    upload_serializer: type[s.JobCreateSerializer] = s.JobCreateSerializer

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        refuse_oversized_body(request)  # before CSRF parses (and spools) the body
        receive_in_memory(request)
        super().initial(request, *args, **kwargs)

    def submit(self, request: Request) -> Job:
        form = self.upload_serializer(data=request.data, context={"request": request})
        return submit_upload(request, form)


class _Read(APIView):
    action = "retrieve"
    anonymous_actions = frozenset({"retrieve"})

    def job(self, request: Request, pk: str) -> Job:
        return get_object_or_404(jobs_visible_to(request.user), pk=pk)


def _example(name: str, value: dict[str, Any], code: str = "200") -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[code])


_JOB_ID = "6f2d3c1e-8a41-4b8e-9a55-0d7c2f1b9e10"
_FILE_URL = "http://127.0.0.1:8000/files/eyJqb2Ii.../"


class UploadView(_Upload):
    """Compatibility: the seed's upload. Multipart `file`; answers the new job's id."""

    @extend_schema(
        tags=["compatibility"], request={"multipart/form-data": s.JobCreateSerializer},
        responses={202: OpenApiResponse(
            {"type": "object", "properties": {"job_id": {"type": "string", "format": "uuid"}},
             "required": ["job_id"]},
            examples=[_example("accepted", {"job_id": _JOB_ID}, "202")],
        ), **errors(413, 415)},
    )
    def post(self, request: Request) -> Response:
        job = self.submit(request)
        return Response({"job_id": str(job.pk)}, status=status.HTTP_202_ACCEPTED)


_STATUS_SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["QUEUED", "PROCESSING", "COMPLETED", "FAILED"]},
        "step": {"type": "string", "description": "The current (or failing) stage."},
        "label": {"type": "string", "nullable": True,
                  "description": "The main detection label, once detected."},
        "file": {"type": "string", "format": "uri", "nullable": True,
                 "description": "A signed link to the result, once completed."},
    },
    "required": ["status", "step", "label", "file"],
}


class StatusView(_Read):
    """Compatibility: the seed's status poll."""

    @extend_schema(tags=["compatibility"], responses={200: OpenApiResponse(
        _STATUS_SCHEMA, examples=[_example("completed", {
            "status": "COMPLETED", "step": "detect", "label": "face", "file": _FILE_URL})],
    )})
    def get(self, request: Request, pk: str) -> Response:
        job = self.job(request, pk)
        return Response({
            "status": _SEED_STATUS[job.status],
            "step": job.stage,
            "label": job.labels[0] if job.labels else None,
            "file": signed_url(job, "result", request),
        })


class AnalyzeView(_Upload):
    """Compatibility: the seed's analysis upload. Multipart `file`; poll /api/v1/tasks/{id}."""

    @extend_schema(
        tags=["compatibility"], request={"multipart/form-data": s.JobCreateSerializer},
        responses={202: OpenApiResponse(
            {"type": "object", "properties": {
                "task_id": {"type": "string", "format": "uuid"},
                "status": {"type": "string", "enum": ["processing"]}},
             "required": ["task_id", "status"]},
            examples=[_example("accepted", {"task_id": _JOB_ID, "status": "processing"}, "202")],
        ), **errors(413, 415)},
    )
    def post(self, request: Request) -> Response:
        job = self.submit(request)
        return Response(
            {"task_id": str(job.pk), "status": "processing"}, status=status.HTTP_202_ACCEPTED
        )


class TaskView(_Read):
    """Compatibility: the seed's task state; `result_url` once COMPLETED, `error` if FAILED."""

    @extend_schema(tags=["compatibility"], responses={200: OpenApiResponse(
        {"type": "object", "properties": {
            "task_id": {"type": "string", "format": "uuid"},
            "status": {"type": "string",
                       "enum": ["PENDING", "PROCESSING", "COMPLETED", "FAILED"]},
            "result_url": {"type": "string", "format": "uri", "nullable": True},
            "error": {"type": "string", "nullable": True}},
         "required": ["task_id", "status", "result_url", "error"]},
        examples=[_example("completed", {"task_id": _JOB_ID, "status": "COMPLETED",
                                         "result_url": _FILE_URL, "error": None})],
    )})
    def get(self, request: Request, pk: str) -> Response:
        job = self.job(request, pk)
        return Response({
            "task_id": str(job.pk),
            "status": _TASK_STATUS[job.status],
            "result_url": signed_url(job, "result", request),
            "error": job.error or None,
        })


class ProcessView(_Upload):
    """Compatibility: the seed's processing upload. Multipart `image`, optional `filters`
    (and `output_format`, `webhook_url`); answers the job as /api/v1/jobs/{id}/ does."""

    upload_serializer = ProcessSerializer

    @extend_schema(
        tags=["compatibility"], request={"multipart/form-data": ProcessSerializer},
        responses={202: s.JobSerializer, **errors(413, 415)},
    )
    def post(self, request: Request) -> Response:
        job = get_object_or_404(
            jobs_visible_to(request.user).prefetch_related("stage_runs"),
            pk=self.submit(request).pk,
        )
        data = s.JobSerializer(job, context={"request": request}).data
        # str(): the URL is a DRF Hyperlink, and WSGI servers accept only plain str headers.
        return Response(
            data, status=status.HTTP_202_ACCEPTED, headers={"Location": str(data["url"])}
        )


# The same routes with a trailing slash, as the seeds accepted both; their own operation ids.
@extend_schema_view(post=extend_schema(operation_id="upload_slash_create"))
class UploadSlashView(UploadView):
    pass


@extend_schema_view(get=extend_schema(operation_id="status_slash_retrieve"))
class StatusSlashView(StatusView):
    pass
