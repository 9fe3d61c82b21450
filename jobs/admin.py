"""The ops console: jobs are inspected and acted on here, never edited.

Every action calls the same services as the API (jobs/services.py); buttons on a job's page
and list actions both need the `operate` permission (the model's change permission).
"""

from collections.abc import Callable
from functools import partial
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django_dramatiq.models import Task

from jobs import admin_display as show
from jobs import queue_stats, services, stages
from jobs.downloads import signed_url
from jobs.models import IllegalTransition, Job, Preset, ReprocessRefused, StageRun
from jobs.selection import faces_q, label_q
from jobs.timeline import attempts_per_stage, job_runs
from jobs.webhook_log import webhook_redeliver
from jobs.webhook_models import WebhookDelivery
from processing.detectors.labels import DERIVED_LABELS

# --- filters ----------------------------------------------------------------------------------


class FailedStageFilter(admin.SimpleListFilter):
    title = "failed stage"
    parameter_name = "failed_stage"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(stage.name, stage.name) for stage in stages.STAGES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        if self.value():
            return queryset.filter(status=Job.Status.FAILED, stage=self.value())
        return queryset


class LabelFilter(admin.SimpleListFilter):
    title = "label"
    parameter_name = "label"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(label, label) for label in DERIVED_LABELS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        return queryset.filter(label_q(self.value())) if self.value() else queryset


class FacesFilter(admin.SimpleListFilter):
    title = "faces"
    parameter_name = "faces"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("0", "none"), ("1", "one"), ("2+", "two or more")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        return queryset.filter(faces_q(self.value())) if self.value() else queryset


# --- jobs -------------------------------------------------------------------------------------

#: Buttons on a job's page: name -> (label, applies to the job?).
OPERATIONS: dict[str, tuple[str, Callable[[Job], bool]]] = {
    "reprocess": ("Reprocess", lambda job: not job.is_active),
    "retry": ("Retry from the failed stage", lambda job: job.status == Job.Status.FAILED),
    "cancel": ("Cancel", lambda job: job.is_active),
    "redeliver": ("Redeliver webhook",
                  lambda job: bool(job.webhook_url) and job.status in Job.ANNOUNCED),
}


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "short_id", "thumbnail", "status_badge", "stage", "created", "duration",
        "most_attempts", "short_error",
    ]
    list_display_links = ["short_id"]
    list_filter = [
        "status", "stage", FailedStageFilter, LabelFilter, FacesFilter,
        ("owner", admin.RelatedOnlyFieldListFilter), "output_format", "created_at",
    ]
    list_per_page = 50
    search_fields = ["id", "original_name", "error"]
    date_hierarchy = "created_at"
    actions: list = ["reprocess_jobs", "cancel_jobs"]
    fieldsets = [
        ("State", {"fields": [
            "id", "status_badge", "stage", "error", "run", "attempts_by_stage", "created",
            "started", "finished", "duration", "event_broadcast", "owner",
        ]}),
        ("Timeline (every run, newest first)", {"fields": ["timeline"]}),
        ("Images and detections", {"fields": [
            ("original_preview", "result_preview"), "detections_view", "original_name",
            "original_format", ("original_width", "original_height", "original_bytes"),
            ("result_width", "result_height"), "original_sha256", "reused_from",
        ]}),
        ("Webhook", {"fields": ["webhook_url", "webhook_log"]}),
        ("Request", {"fields": ["steps", "output_format"]}),
    ]
    readonly_fields = [
        name for _, options in fieldsets for entry in options["fields"]
        for name in (entry if isinstance(entry, tuple) else (entry,))
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Job]:
        # The most attempts any stage of the current run needed, in the same query as the
        # page (a correlated subquery, evaluated only for the rows shown).
        most = (
            StageRun.objects.filter(job=OuterRef("pk"), run=OuterRef("run"))
            .order_by("-attempt").values("attempt")[:1]
        )
        return super().get_queryset(request).annotate(most_attempts=Subquery(most))

    def get_urls(self) -> list:
        own = [
            path("<uuid:object_id>/operate/<str:operation>/",
                 self.admin_site.admin_view(self.operate_view), name="jobs_job_operate"),
            path("dead-letters/", self.admin_site.admin_view(self.dead_letters_view),
                 name="jobs_job_dead_letters"),
        ]
        return own + super().get_urls()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False  # state changes only through the actions, which call the services

    def has_delete_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False  # deleting would bypass the services and leave the images in storage

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Running the actions needs the model's change permission (view is not enough)."""
        return request.user.has_perm("jobs.change_job")

    # --- columns and fields ---

    @admin.display(description="id", ordering="id")
    def short_id(self, job: Job) -> str:
        return format_html('<code title="{}">{}</code>', job.pk, str(job.pk)[:8])

    @admin.display(description="image")
    def thumbnail(self, job: Job) -> str:
        url = signed_url(job, "result") or signed_url(job, "original")
        return format_html('<img src="{}" loading="lazy" alt="" style="height:40px;'
                           'max-width:64px;object-fit:cover;border-radius:3px">', url)

    @admin.display(description="status", ordering="status")
    def status_badge(self, job: Job) -> str:
        return show.badge(job.status)

    @admin.display(description="created", ordering="created_at")
    def created(self, job: Job) -> str:
        return show.ms(job.created_at)

    @admin.display(description="started (this run)")
    def started(self, job: Job) -> str:
        return show.ms(job.started_at)

    @admin.display(description="finished")
    def finished(self, job: Job) -> str:
        return show.ms(job.finished_at)

    @admin.display(description="duration")
    def duration(self, job: Job) -> str:
        return show.seconds(job.duration_seconds)

    @admin.display(description="attempts", ordering="most_attempts")
    def most_attempts(self, job: Job) -> str:
        """The most any stage of the current run needed: 1 = a clean run."""
        return str(getattr(job, "most_attempts", None) or "-")

    @admin.display(description="error")
    def short_error(self, job: Job) -> str:
        if not job.error:
            return ""
        return format_html('<span title="{}">{}</span>', job.error, show.clip(job.error, 60))

    @admin.display(description="attempts per stage (this run)")
    def attempts_by_stage(self, job: Job) -> str:
        per_stage = attempts_per_stage(job)
        return ", ".join(f"{stage} {count}" for stage, count in per_stage.items()) or "-"

    @admin.display(description="completion event")
    def event_broadcast(self, job: Job) -> str:
        if queue_stats.is_embedded():
            return "not broadcast: embedded mode has no RabbitMQ (webhooks are still called)"
        if job.notified_at:
            return f"published to RabbitMQ ({show.ms(job.notified_at)})"
        if job.status in Job.ANNOUNCED:
            return "not published yet (the reaper re-sends it)"
        return "-"

    @admin.display(description="timeline")
    def timeline(self, job: Job) -> str:
        return show.timeline_table(job_runs(job))

    @admin.display(description="detections")
    def detections_view(self, job: Job) -> str:
        result = signed_url(job, "result")
        return show.detections(job.detections, result, job.result_width, job.result_height)

    @admin.display(description="deliveries")
    def webhook_log(self, job: Job) -> str:
        return show.deliveries(job.webhook_deliveries.all()[:50])

    @admin.display(description="original")
    def original_preview(self, job: Job) -> str:
        return _image_link(reverse("job-original", kwargs={"pk": job.pk}))

    @admin.display(description="result")
    def result_preview(self, job: Job) -> str:
        if job.status != Job.Status.COMPLETED:
            return "-"
        return _image_link(reverse("job-result", kwargs={"pk": job.pk}))

    # --- buttons on a job's page ---

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        job = self.get_object(request, object_id)
        buttons = []
        if job is not None and self.has_operate_permission(request):
            buttons = [
                {"name": name, "label": label,
                 "url": reverse("admin:jobs_job_operate", args=[job.pk, name])}
                for name, (label, applies) in OPERATIONS.items() if applies(job)
            ]
        context = {**(extra_context or {}), "operations": buttons}
        return super().change_view(request, object_id, form_url, context)

    def changelist_view(self, request: HttpRequest,
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {**(extra_context or {}),
                   "dead_letters_url": reverse("admin:jobs_job_dead_letters")}
        return super().changelist_view(request, context)

    @staticmethod
    def _operation(job: Job, operation: str) -> str:
        """Run one button's service; returns what happened."""
        if operation == "reprocess":
            services.job_reprocess(job_id=job.pk)
            return "requeued from its first stage"
        if operation == "retry":
            services.job_reprocess(job_id=job.pk, from_stage=job.stage)
            return f"requeued from {job.stage}"
        if operation == "cancel":
            services.job_cancel(job_id=job.pk)
            return "cancelled"
        if webhook_redeliver(job_id=job.pk):
            return "webhook delivery queued"
        raise IllegalTransition("this job has no finished event to deliver")

    def operate_view(self, request: HttpRequest, object_id: Any, operation: str) -> HttpResponse:
        return _operate(self, request, object_id, operation)

    def dead_letters_view(self, request: HttpRequest) -> HttpResponse:
        return _dead_letters(self, request)

    # --- list actions ---

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


def _operate(model_admin: JobAdmin, request: HttpRequest, object_id: Any,
             operation: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if operation not in OPERATIONS:
        raise PermissionDenied(f"no such operation: {operation}")
    if not model_admin.has_operate_permission(request):
        raise PermissionDenied("operating on jobs needs the change job permission")
    job = get_object_or_404(Job, pk=object_id)
    try:
        model_admin.message_user(request, f"Job {str(job.pk)[:8]}: "
                                 f"{model_admin._operation(job, operation)}.", messages.SUCCESS)
    except (IllegalTransition, ReprocessRefused) as error:
        model_admin.message_user(request, f"Job {str(job.pk)[:8]}: {error}", messages.WARNING)
    return HttpResponseRedirect(reverse("admin:jobs_job_change", args=[job.pk]))


def _dead_letters(model_admin: JobAdmin, request: HttpRequest) -> HttpResponse:
    """Dead-lettered messages per queue, with requeue (one or all) for operators."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    self_url = reverse("admin:jobs_job_dead_letters")
    queue = request.POST.get("queue") or request.GET.get("queue") or ""
    if request.method == "POST":
        if not model_admin.has_operate_permission(request):
            raise PermissionDenied("requeueing needs the change job permission")
        try:
            moved = queue_stats.dead_letter_requeue(queue, request.POST.get("message_id") or None)
            model_admin.message_user(request, f"{moved} message(s) sent back to {queue}.",
                                     messages.SUCCESS)
        except (ValueError, queue_stats.BrokerUnavailable) as error:
            model_admin.message_user(request, str(error), messages.ERROR)
        return HttpResponseRedirect(f"{self_url}?queue={queue}")
    context = {
        **model_admin.admin_site.each_context(request), "title": "Dead-lettered messages",
        "opts": Job._meta, "embedded": queue_stats.is_embedded(), "queue": queue,
        "can_operate": model_admin.has_operate_permission(request), "error": "",
        "depths": [], "letters": [],
    }
    try:
        context["depths"] = queue_stats.queue_depths()
        if queue:
            context["letters"] = queue_stats.dead_letters(queue)
    except (ValueError, queue_stats.BrokerUnavailable) as error:
        context["error"] = str(error)
    return TemplateResponse(request, "admin/jobs/dead_letters.html", context)


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


# --- stage runs and webhook deliveries ----------------------------------------------------------

class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StageRun)
class StageRunAdmin(ReadOnlyAdmin):
    list_display = ["job_link", "run", "stage", "attempt", "status_badge", "started",
                    "duration_ms", "worker", "error"]
    list_filter = ["stage", "status"]
    list_select_related = ["job"]
    search_fields = ["job__id", "worker", "error"]
    readonly_fields = [field.name for field in StageRun._meta.fields]

    @admin.display(description="job")
    def job_link(self, run: StageRun) -> str:
        return show.job_link(run.job_id)

    @admin.display(description="status", ordering="status")
    def status_badge(self, run: StageRun) -> str:
        return show.badge("reused" if run.reused_from_run else run.status)

    @admin.display(description="started", ordering="started_at")
    def started(self, run: StageRun) -> str:
        return show.ms(run.started_at)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created", "job_link", "event", "attempt", "outcome_badge", "status_code",
                    "duration_ms", "url", "error"]
    list_filter = ["outcome", "event"]
    search_fields = ["job__id", "url", "error"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    actions: list = ["redeliver"]

    @admin.display(description="at", ordering="created_at")
    def created(self, delivery: WebhookDelivery) -> str:
        return show.ms(delivery.created_at)

    @admin.display(description="job")
    def job_link(self, delivery: WebhookDelivery) -> str:
        return show.job_link(delivery.job_id)

    @admin.display(description="outcome", ordering="outcome")
    def outcome_badge(self, delivery: WebhookDelivery) -> str:
        return show.badge(delivery.outcome)

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobs.change_job")

    @admin.action(description="Deliver the jobs' events again", permissions=["operate"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        job_ids = set(queryset.values_list("job_id", flat=True))
        sent = sum(webhook_redeliver(job_id=job_id) for job_id in job_ids)
        self.message_user(request, f"{sent} webhook delivery(ies) queued.", messages.SUCCESS)


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
