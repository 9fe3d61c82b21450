"""Batch endpoints: many files in one upload, then their progress. Thin: validate, call
jobs/batches.py, serialize."""

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from jobs import batches
from jobs.api import serializers as s
from jobs.api.filters import refuse_unknown_params
from jobs.api.schema import errors
from jobs.api.views import IDEMPOTENCY_KEY, REPLAYED_HEADER, idempotent
from jobs.models import Batch
from jobs.selectors import batches_visible_to

# Room for the multipart envelope and the option fields around the files.
_FORM_OVERHEAD_BYTES = 64 * 1024


class BatchViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Batches: upload many images at once (POST, one `file` part per image), each its own
    job; then the batch's counts by status and its jobs. One event and one webhook when every
    job of the batch has finished."""

    # As jobs: in PHOTOPIPE_ANONYMOUS=by-id mode anyone may upload and read a batch by id.
    anonymous_actions = frozenset({"create", "retrieve"})
    strict_query_params = True

    def get_queryset(self) -> QuerySet[Batch]:
        return batches_visible_to(self.request.user).prefetch_related("items__job")

    def get_serializer_class(self) -> type:
        return s.BatchCreateSerializer if self.action == "create" else s.BatchSerializer

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        if self.action == "create":
            _refuse_oversized_body(request)  # before CSRF parses (and spools) the body
        super().initial(request, *args, **kwargs)
        refuse_unknown_params(request, set())

    @extend_schema(
        request={"multipart/form-data": s.BatchCreateSerializer}, parameters=[IDEMPOTENCY_KEY],
        responses={202: OpenApiResponse(
            s.BatchSerializer, description="Accepted: one job per acceptable file; a refused "
            "file has its own `error` in `items`. 400 only when no file was accepted.",
        ), **errors(413, 422)},
    )
    def create(self, request: Request) -> Response:
        def upload() -> tuple[int, dict[str, Any]]:
            form = self.get_serializer(data=request.data)
            form.is_valid(raise_exception=True)
            options = form.validated_data
            try:
                batch = batches.batch_submit(
                    files=options["file"], steps=options["steps"],
                    output_format=options["output_format"], webhook_url=options["webhook_url"],
                    owner=request.user,
                )
            except batches.BatchRefused as refusal:
                raise ValidationError({"file": [
                    f"{error['file'] or '(no name)'}: {error['detail']}"
                    for error in refusal.errors
                ]}) from None
            batch = self.get_queryset().get(pk=batch.pk)
            return status.HTTP_202_ACCEPTED, s.BatchSerializer(
                batch, context=self.get_serializer_context()
            ).data

        code, body, replayed = idempotent(request, upload)
        headers = {"Location": str(body["url"])}
        if replayed:
            headers[REPLAYED_HEADER] = "true"
        return Response(body, status=code, headers=headers)

    @extend_schema(responses={200: s.BatchSerializer})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A batch: `counts` of its jobs by status (and of refused files), each file's job or
        error; `status` is `finished` once no job of it is queued or processing."""
        return super().retrieve(request, *args, **kwargs)


def _refuse_oversized_body(request: Request) -> None:
    """413 from Content-Length, before Django spools a huge body to disk to parse it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if length > batches.MAX_FILES * settings.PHOTOPIPE["MAX_UPLOAD_BYTES"] + _FORM_OVERHEAD_BYTES:
        raise RequestDataTooBig("batch body too large")
