"""The image limits every stage and the upload apply, from settings."""

from django.conf import settings

import processing


def upload_limits() -> processing.Limits:
    conf = settings.PHOTOPIPE
    return processing.Limits(
        max_bytes=conf["MAX_UPLOAD_BYTES"], max_pixels=conf["MAX_PIXELS"],
        max_frames=conf["MAX_FRAMES"], max_work_ms=conf["MAX_WORK_MS"],
        accept_damaged=conf["ACCEPT_DAMAGED"],
    )
