"""API shapes. Validation only: the work happens in jobs/services.py."""

from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

import processing
from jobs import batches, webhooks
from jobs.api.parsers import loads_bounded
from jobs.downloads import signed_url
from jobs.models import Batch, BatchItem, Job, Preset, StageRun
from jobs.stages import ALL_STAGES
from jobs.timeline import attempts_per_stage, job_runs

# What StepsField accepts, for the OpenAPI schema (drf-spectacular cannot guess a custom field,
# and says so in a warning that `check --deploy` counts).
_STEP_SCHEMA = {
    "oneOf": [
        {"type": "string", "description": 'names, "grayscale,sharpen", or a JSON list'},
        {"type": "array", "items": {"oneOf": [
            {"type": "string"},
            {"type": "object", "properties": {"name": {"type": "string"},
                                              "params": {"type": "object"}},
             "required": ["name"]},
        ]}},
    ]
}


@extend_schema_field(_STEP_SCHEMA)
class StepsField(serializers.Field):
    """A list of filter steps: JSON (list of names or {"name", "params"}) or "a,b,c".

    Accepts a JSON string too, because multipart forms (curl -F, the browsable API) can
    only send strings.
    """

    default_error_messages = {"invalid": "{reason}"}

    def to_internal_value(self, data: Any) -> list[processing.Step]:
        if isinstance(data, str):
            text = data.strip()
            if not text:
                return []
            if text.startswith("["):
                try:
                    data = loads_bounded(text)
                except ValueError as error:
                    self.fail("invalid", reason=f"steps is not valid JSON: {error}")
            else:
                data = [name.strip() for name in text.split(",") if name.strip()]
        try:
            return processing.validate_steps(data)
        except processing.InvalidStep as error:
            self.fail("invalid", reason=str(error))

    def to_representation(self, value: Any) -> Any:
        return value


class JobCreateSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The image: JPEG, PNG, WebP, GIF or TIFF.")
    steps = StepsField(
        required=False, default=list,
        help_text='Filters to apply after resizing, e.g. "grayscale,sharpen" or '
        '[{"name": "blur", "params": {"radius": 2}}]. See /api/v1/steps/.',
    )
    output_format = serializers.ChoiceField(
        choices=processing.output_format_names(), default="jpeg", required=False
    )
    webhook_url = serializers.URLField(
        required=False, allow_blank=True, default="", max_length=500,
        help_text="Called with a signed JSON POST (Standard Webhooks) when the job completes "
        "or fails. Public http(s) addresses only; needs an account.",
    )

    preset = serializers.SlugField(
        required=False, allow_blank=True, write_only=True,
        help_text="A preset's name (GET /api/v1/presets/): its steps and output format. With "
        "`steps` too it is a 400; an explicit `output_format` overrides the preset's.",
    )

    #: The form field that carries the image (the compatibility routes name it otherwise).
    file_field = "file"

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        name = attrs.pop("preset", "")
        if not name:
            return attrs
        preset = Preset.objects.filter(name=name).first()
        if preset is None:
            known = ", ".join(Preset.objects.values_list("name", flat=True)) or "none"
            raise serializers.ValidationError({"preset": [
                f"unknown preset {name!r} (known: {known}; see /api/v1/presets/)"
            ]})
        if self._sent("steps"):
            raise serializers.ValidationError({"preset": [
                "a preset brings its own steps: send steps or preset, not both"
            ]})
        # Copied into the job: a later change to the preset changes no existing job.
        attrs["steps"] = preset.step_list()
        if not self._sent("output_format"):
            attrs["output_format"] = preset.output_format
        return attrs

    def _sent(self, source: str) -> bool:
        """Whether the form has a field (under any of its names) that fills ``source``."""
        return any(
            field.source == source and name in self.initial_data
            for name, field in self.fields.items()
        )

    def to_internal_value(self, data: Any) -> Any:
        # A form may repeat a field; DRF would read the last one and drop the others.
        name = self.file_field
        files = data.getlist(name) if hasattr(data, "getlist") else []
        if len(files) > 1:
            raise serializers.ValidationError({name: [
                f"Upload exactly one file in the field '{name}'; this request has {len(files)}."
            ]})
        value = super().to_internal_value(data)
        if name != "file":
            value["file"] = value.pop(name)
        return value

    def validate_file(self, upload: Any) -> bytes:
        # Read one byte past the limit: enough for probe() to say "too large" without ever
        # holding more than the limit in memory.
        limit = settings.PHOTOPIPE["MAX_UPLOAD_BYTES"]
        data = upload.read(limit + 1)
        if not data:
            raise serializers.ValidationError("empty file")
        return data

    def validate_output_format(self, value: str) -> str:
        return processing.normalise_format(value)

    def validate_webhook_url(self, url: str) -> str:
        if not url:
            return url
        request = self.context.get("request")
        if request is None or not request.user.is_authenticated:
            # Deliveries are signed with the uploader's own secret: no account, no secret.
            raise serializers.ValidationError("webhooks need an account")
        try:
            webhooks.check_upload_url(url)
        except webhooks.WebhookRefused as refusal:
            raise serializers.ValidationError(str(refusal)) from None
        return url


class StageRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = StageRun
        fields = [
            "stage", "run", "attempt", "status", "started_at", "finished_at", "duration_ms",
            "worker", "error", "reused_from_run",
        ]


class JobSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="job-detail")
    failed_stage = serializers.SerializerMethodField()
    original = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    attempts = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id", "url", "status", "stage", "failed_stage", "error", "steps", "output_format",
            "original", "result", "reused_from", "detections", "attempts", "run", "created_at",
            "started_at", "finished_at", "duration_seconds", "timeline", "links",
        ]
        extra_kwargs = {"reused_from": {
            "help_text": "Dedupe: the id of the completed job whose result this job reused "
            "(same bytes, steps and output format; no stage ran). Null when it was processed."
        }}
        read_only_fields = fields

    def to_representation(self, job: Job) -> dict[str, Any]:
        data = super().to_representation(job)
        request = self.context.get("request")
        if request is not None and request.query_params.get("runs") == "all":
            # Every run, newest first, as the admin shows them.
            data["runs"] = [
                {"run": run.run, "current": run.current,
                 "timeline": StageRunSerializer(run.attempts, many=True).data}
                for run in job_runs(job)
            ]
        return data

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"},
                          "example": {"resize": 1, "watermark": 2, "detect": 1}})
    def get_attempts(self, job: Job) -> dict[str, int]:
        """Attempts at each stage in the current run (1 = done first time)."""
        return attempts_per_stage(job)

    def get_failed_stage(self, job: Job) -> str | None:
        return job.stage if job.status == Job.Status.FAILED else None

    def get_original(self, job: Job) -> dict[str, Any]:
        return {
            "name": job.original_name, "format": job.original_format,
            "width": job.original_width, "height": job.original_height,
            "bytes": job.original_bytes, "sha256": job.original_sha256,
        }

    def get_result(self, job: Job) -> dict[str, Any] | None:
        if job.status != Job.Status.COMPLETED:
            return None
        return {
            "format": job.output_format, "width": job.result_width, "height": job.result_height,
        }

    def get_timeline(self, job: Job) -> list[dict[str, Any]]:
        """The current run's attempts (``?runs=all`` adds ``runs``: every run)."""
        (current,) = job_runs(job, every_run=False)
        return StageRunSerializer(current.attempts, many=True).data

    def get_links(self, job: Job) -> dict[str, str | None]:
        request = self.context.get("request")

        def link(name: str) -> str:
            path = reverse(name, kwargs={"pk": job.pk})
            return request.build_absolute_uri(path) if request else path

        # original and result: short-lived signed URLs usable without the token.
        return {
            "self": link("job-detail"),
            "original": signed_url(job, "original", request),
            "result": signed_url(job, "result", request),
            "reprocess": link("job-reprocess"),
            "cancel": link("job-cancel") if job.is_active else None,
        }


class JobSummarySerializer(JobSerializer):
    """One line of the job list: where each job is, without its timeline and detections."""

    labels = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [
            "id", "url", "status", "stage", "failed_stage", "error", "original", "labels",
            "created_at", "finished_at", "duration_seconds", "links",
        ]
        read_only_fields = fields

    def get_labels(self, job: Job) -> list[str]:
        return job.labels


class SimilarJobSerializer(JobSummarySerializer):
    distance = serializers.IntegerField(
        read_only=True, help_text="Bits (of 64) in which the perceptual hashes differ."
    )

    class Meta(JobSummarySerializer.Meta):
        fields = [*JobSummarySerializer.Meta.fields, "distance"]
        read_only_fields = fields


class ReprocessSerializer(serializers.Serializer):
    from_stage = serializers.ChoiceField(
        choices=ALL_STAGES, required=False, allow_null=True, default=None,
        help_text="Start from this stage (earlier outputs are reused). Default: the first.",
    )


class EmptySerializer(serializers.Serializer):
    """No input: the browsable API shows a bare button for the action."""


class PresetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Preset
        fields = ["name", "description", "steps", "output_format", "updated_at"]
        read_only_fields = fields


class BatchCreateSerializer(JobCreateSerializer):
    """A batch: many `file` parts, and the options of a single upload for all of them."""

    file = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True), allow_empty=False,
        max_length=batches.MAX_FILES,
        help_text=f"The images, one `file` part each (at most {batches.MAX_FILES}).",
    )
    webhook_url = serializers.URLField(
        required=False, allow_blank=True, default="", max_length=500,
        help_text="Called once, with a signed JSON POST, when every job of the batch has "
        "finished (its jobs call none of their own). Public http(s) addresses only.",
    )

    def to_internal_value(self, data: Any) -> Any:
        return serializers.Serializer.to_internal_value(self, data)  # many files are the point

    def validate_file(self, uploads: Any) -> list[batches.BatchFile]:
        # As a single upload: at most one byte past the limit is read (probe says "too large").
        limit = settings.PHOTOPIPE["MAX_UPLOAD_BYTES"]
        return [
            batches.BatchFile(name=getattr(upload, "name", "") or "", data=upload.read(limit + 1))
            for upload in uploads
        ]


class BatchJobSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="job-detail")

    class Meta:
        model = Job
        fields = ["id", "url", "status", "stage", "error", "reused_from"]
        read_only_fields = fields


class BatchItemSerializer(serializers.ModelSerializer):
    file = serializers.CharField(source="filename", help_text="The file's name as sent.")
    job = BatchJobSerializer(allow_null=True, help_text="The file's job; null if refused.")
    error = serializers.JSONField(
        allow_null=True, help_text='Why the file was refused: {"detail", "code"}; null if not.'
    )

    class Meta:
        model = BatchItem
        fields = ["file", "job", "error"]
        read_only_fields = fields


@extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"},
                      "description": "Jobs by status (queued, processing, completed, failed, "
                      "cancelled) and `refused`: files refused at upload."})
class CountsField(serializers.Field):
    def to_representation(self, batch: Batch) -> dict[str, int]:
        return batches.status_counts(batch)


class BatchSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="batch-detail")
    status = serializers.SerializerMethodField()
    counts = CountsField(source="*", read_only=True)
    items = BatchItemSerializer(many=True, read_only=True)

    class Meta:
        model = Batch
        fields = ["id", "url", "status", "counts", "created_at", "finished_at", "items"]
        read_only_fields = fields

    # A plain string in the schema: an enum here would collide with the jobs' status enum.
    @extend_schema_field({"type": "string", "description": "`processing`, or `finished` once "
                          "no job of the batch is queued or processing."})
    def get_status(self, batch: Batch) -> str:
        return "finished" if batch.finished_at else "processing"
