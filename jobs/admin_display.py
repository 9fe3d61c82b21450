"""HTML pieces of the ops console (admin and dashboard): badges, times to the millisecond,
the grouped timeline, detections drawn over the image, the webhook log. All escaped through
format_html."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from jobs.timeline import RunTimeline

COLOURS = {
    "queued": "#6b7280", "processing": "#2563eb", "running": "#2563eb", "completed": "#15803d",
    "done": "#15803d", "delivered": "#15803d", "failed": "#b91c1c", "refused": "#b45309",
    "cancelled": "#7c3aed", "reused": "#0e7490",
}


def badge(status: str) -> SafeString:
    return format_html(
        '<span style="background:{};color:#fff;border-radius:9px;padding:1px 8px;'
        'font-size:11px;white-space:nowrap">{}</span>', COLOURS.get(status, "#6b7280"), status,
    )


def ms(moment: datetime | None) -> str:
    """Local time to the millisecond (stages take milliseconds)."""
    if moment is None:
        return "-"
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def job_link(job_id: Any) -> SafeString:
    url = reverse("admin:jobs_job_change", args=[job_id])
    return format_html('<a href="{}"><code title="{}">{}</code></a>', url, job_id,
                       str(job_id)[:8])


def timeline_table(runs: list[RunTimeline]) -> SafeString:
    """Every run, newest first: each attempt with status, start, duration, worker, error."""
    parts = []
    for run in runs:
        rows = format_html_join("", (
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td></tr>"
        ), (
            (a.stage, a.attempt, _attempt_badge(a), ms(a.started_at),
             "-" if a.duration_ms is None else f"{a.duration_ms} ms",
             a.worker or "-", a.error or "")
            for a in run.attempts
        ))
        title = f"run {run.run}" + (" (current)" if run.current else "")
        parts.append(format_html(
            '<table style="margin-bottom:8px"><caption style="text-align:left;font-weight:bold">'
            "{}</caption><thead><tr><th>stage</th><th>attempt</th><th>status</th>"
            "<th>started</th><th>duration</th><th>worker</th><th>error</th></tr></thead>"
            "<tbody>{}</tbody></table>", title,
            rows or mark_safe('<tr><td colspan="7">not started yet</td></tr>'),
        ))
    return mark_safe("".join(parts))  # noqa: S308 - each part built by format_html


def _attempt_badge(attempt: Any) -> SafeString:
    if attempt.reused_from_run:
        return format_html("{} <small>from run {}</small>", badge("reused"),
                           attempt.reused_from_run)
    return badge(attempt.status)


def detections(found: dict[str, Any] | None, image_url: str | None,
               width: int | None, height: int | None) -> SafeString | str:
    """Faces and people as boxes over the result image (detection ran on the resized image,
    which has the result's size), labels as chips, colours as swatches, the rest as a table."""
    if not found:
        return "-"
    parts = []
    boxes = [("face", "#facc15", item) for item in found.get("faces") or []]
    boxes += [("person", "#22d3ee", item) for item in found.get("people") or []]
    if image_url and width and height:
        rects = format_html_join("", (
            '<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="{}" '
            'stroke-width="{}"/><text x="{}" y="{}" fill="{}" font-size="{}">{} {}</text>'
        ), (
            (x, y, w, h, colour, max(2, width // 300), x + 2, max(y - 4, 12), colour,
             max(12, width // 40), kind, item.get("confidence", ""))
            for kind, colour, item in boxes for x, y, w, h in [item["box"]]
        ))
        parts.append(format_html(
            '<div style="position:relative;display:inline-block;max-width:480px">'
            '<img src="{}" style="display:block;max-width:480px;height:auto" alt="result">'
            '<svg viewBox="0 0 {} {}" preserveAspectRatio="none" '
            'style="position:absolute;left:0;top:0;width:100%;height:100%">{}</svg></div>',
            image_url, width, height, rects,
        ))
    parts.append(format_html_join("", (
        '<span style="display:inline-block;background:#e0e7ff;color:#1e3a8a;border-radius:9px;'
        'padding:1px 8px;margin:2px">{}</span>'
    ), ((label,) for label in found.get("labels") or [])))
    parts.append(format_html_join("", (
        '<span style="display:inline-block;margin:2px 6px 2px 0"><span style="display:'
        'inline-block;width:14px;height:14px;vertical-align:middle;background:{};border:1px '
        'solid #999"></span> {} {}%</span>'
    ), (
        (colour.get("hex"), colour.get("hex"), round(100 * float(colour.get("fraction", 0))))
        for colour in found.get("dominant_colors") or []
    )))
    facts = [(key, value) for key, value in found.items()
             if key not in ("faces", "people", "labels", "dominant_colors")]
    facts[:0] = [("faces", len(found.get("faces") or [])),
                 ("people", len(found.get("people") or []))]
    parts.append(format_html(
        "<table>{}</table>",
        format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", facts),
    ))
    return mark_safe("<div>" + "<br>".join(parts) + "</div>")  # noqa: S308 - escaped parts


def deliveries(log: Iterable[Any]) -> SafeString | str:
    rows = format_html_join("", (
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"
    ), (
        (ms(d.created_at), d.event, d.attempt, badge(d.outcome), d.status_code or "-",
         f"{d.duration_ms} ms") for d in log
    ))
    if not rows:
        return "no delivery yet"
    return format_html(
        "<table><thead><tr><th>at</th><th>event</th><th>attempt</th><th>outcome</th>"
        "<th>answer</th><th>duration</th></tr></thead><tbody>{}</tbody></table>", rows,
    )
