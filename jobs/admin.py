"""The ops console: jobs are inspected and acted on here, never edited."""

from collections.abc import Callable
from functools import partial

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django_dramatiq.models import Task

from jobs import services, stages
from jobs.models import IllegalTransition, Job, Preset, ReprocessRefused, StageRun


class StageRunInline(admin.TabularInline):
    model = StageRun
    extra = 0
    can_delete = False
    fields = readonly_fields = [
        "run", "stage", "attempt", "status", "started_at", "finished_at", "duration_ms",
        "worker", "error",
    ]
    ordering = ["run", "started_at", "id"]

    def has_add_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "id", "status", "stage", "original_name", "created_at", "duration", "attempts",
        "short_error",
    ]
    list_filter = ["status", "stage", "output_format", "created_at"]
    search_fields = ["id", "original_name", "error"]
    date_hierarchy = "created_at"
    inlines = [StageRunInline]
    actions: list = ["reprocess_jobs", "cancel_jobs"]
    fieldsets = [
        ("State", {"fields": [
            "id", "status", "stage", "error", "run", "attempts", "created_at", "started_at",
            "finished_at", "notified_at", "updated_at",
        ]}),
        ("Images", {"fields": [
            ("original_preview", "result_preview"), "original_name", "original_format",
            ("original_width", "original_height", "original_bytes"),
            ("result_width", "result_height"), "original_sha256", "reused_from",
        ]}),
        ("Detections", {"fields": ["detections"]}),
        ("Request", {"fields": ["owner", "steps", "output_format", "webhook_url"]}),
    ]
    readonly_fields = [
        name for _, options in fieldsets for entry in options["fields"]
        for name in (entry if isinstance(entry, tuple) else (entry,))
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False  # state changes only through the actions, which call the services

    @admin.display(description="duration (s)")
    def duration(self, job: Job) -> str:
        seconds = job.duration_seconds
        return f"{seconds:.2f}" if seconds is not None else "-"

    @admin.display(description="error")
    def short_error(self, job: Job) -> str:
        return job.error[:80]

    @admin.display(description="original")
    def original_preview(self, job: Job) -> str:
        return _image_link(reverse("job-original", kwargs={"pk": job.pk}))

    @admin.display(description="result")
    def result_preview(self, job: Job) -> str:
        if job.status != Job.Status.COMPLETED:
            return "-"
        return _image_link(reverse("job-result", kwargs={"pk": job.pk}))

    def has_delete_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False  # deleting would bypass the services and leave the images in storage

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Running the actions needs the model's change permission (view is not enough)."""
        return request.user.has_perm("jobs.change_job")

    @admin.action(
        description="Reprocess selected jobs from the first stage", permissions=["operate"]
    )
    def reprocess_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._apply(request, queryset, services.job_reprocess, "requeued")

    @admin.action(description="Cancel selected jobs", permissions=["operate"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._apply(request, queryset, services.job_cancel, "cancelled")

    def _apply(
        self, request: HttpRequest, queryset: QuerySet[Job], service: Callable[..., Job],
        verb: str,
    ) -> None:
        done, refused = 0, []
        for job_id in queryset.values_list("pk", flat=True):
            try:
                service(job_id=job_id)
                done += 1
            except (IllegalTransition, ReprocessRefused) as error:
                refused.append(f"{job_id}: {error}")
        self.message_user(request, f"{done} job(s) {verb}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)


def _reprocess_from(stage: str) -> Callable[[JobAdmin, HttpRequest, QuerySet[Job]], None]:
    """A list action restarting jobs at ``stage`` (earlier stages' outputs are reused)."""

    def action(model_admin: JobAdmin, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        service = partial(services.job_reprocess, from_stage=stage)
        model_admin._apply(request, queryset, service, f"requeued from {stage}")

    action.__name__ = f"reprocess_from_{stage}"
    return admin.action(
        description=f"Reprocess selected jobs from the {stage} stage", permissions=["operate"]
    )(action)


# One action per later stage of the registry: a new stage gets its action without an edit here.
JobAdmin.actions += [_reprocess_from(stage.name) for stage in stages.STAGES[1:]]


def _image_link(url: str) -> str:
    return format_html(
        '<a href="{0}" target="_blank"><img src="{0}" style="max-width:320px;max-height:240px">'
        "</a>", url,
    )


@admin.register(StageRun)
class StageRunAdmin(admin.ModelAdmin):
    list_display = ["job", "run", "stage", "attempt", "status", "duration_ms", "worker", "error"]
    list_filter = ["stage", "status"]
    search_fields = ["job__id", "worker", "error"]
    readonly_fields = [field.name for field in StageRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: StageRun | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: StageRun | None = None) -> bool:
        return False


# django_dramatiq's task log stays empty: Photopipe records its own timeline (StageRun) and does
# not install its AdminMiddleware, so its admin page would only mislead.
if admin.site.is_registered(Task):
    admin.site.unregister(Task)


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):
    """Presets are edited here (GET /api/v1/presets/ lists them); Preset.clean() validates the
    steps and the output format, so a preset the API would refuse is never saved."""

    list_display = ["name", "description", "output_format", "updated_at"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "steps", "output_format"]
