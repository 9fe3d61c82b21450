"""Job endpoints. Thin: validate, call a service, serialize."""

import django_filters
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

import processing
from jobs import retention, services
from jobs.api import serializers as s
from jobs.api.renderers import AnyMediaRenderer
from jobs.downloads import Download, download_of
from jobs.limits import upload_limits
from jobs.models import Job
from jobs.quotas import quota_check_upload
from jobs.selectors import jobs_visible_to


class JobFilter(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Job
        fields = ["status", "stage"]


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
        }.get(self.action, s.JobSerializer)

    @extend_schema(request=s.JobCreateSerializer, responses={202: s.JobSerializer})
    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        if self.action == "create":
            # Before super().initial(): its CSRF check would parse (and spool) the whole body.
            _refuse_oversized_body(request)
        super().initial(request, *args, **kwargs)

    def create(self, request: Request) -> Response:
        upload = self.get_serializer(data=request.data)
        upload.is_valid(raise_exception=True)
        quota_check_upload(user=request.user, upload_bytes=len(upload.validated_data["file"]))
        job = services.job_submit(
            data=upload.validated_data["file"],
            filename=getattr(request.data.get("file"), "name", ""),
            steps=upload.validated_data["steps"],
            output_format=upload.validated_data["output_format"],
            webhook_url=upload.validated_data["webhook_url"],
            owner=request.user,
        )
        return self._job_response(job, status.HTTP_202_ACCEPTED, created=True)

    @extend_schema(methods=["GET"], exclude=True)
    @extend_schema(methods=["POST"], request=s.ReprocessSerializer,
                   responses={202: s.JobSerializer})
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

    @extend_schema(methods=["GET"], exclude=True)
    @extend_schema(methods=["POST"], request=None, responses={200: s.JobSerializer})
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

    def _job_response(self, job: Job, code: int, *, created: bool = False) -> Response:
        job = self.get_queryset().get(pk=job.pk)
        data = s.JobSerializer(job, context=self.get_serializer_context()).data
        headers = {"Location": str(data["url"])} if created else {}
        return Response(data, status=code, headers=headers)


# Room for the multipart envelope and the other form fields around the file itself.
_FORM_OVERHEAD_BYTES = 64 * 1024


def _refuse_oversized_body(request: Request) -> None:
    """413 from Content-Length, before Django spools a huge body to disk to parse it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    processing.check_byte_size(length - _FORM_OVERHEAD_BYTES, upload_limits())


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


