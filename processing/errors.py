"""Errors a user can act on.

`str(err)` is the user-facing reason and is stored on the failed job as is, so every message
names the problem in plain words ("unsupported format (PDF)"), never a Pillow traceback.
`ImageError` and its subclasses are permanent: retrying the same bytes cannot succeed, so the
platform fails the job at once instead of retrying. `code` is a stable machine-readable name.
"""

from __future__ import annotations


class ImageError(Exception):
    """Base class: the input image cannot be processed, retrying will not help."""

    code = "image_error"


class UnsupportedFormat(ImageError):
    """Not one of the accepted formats (or not an image at all): "unsupported format (PDF)"."""

    code = "unsupported_format"


class CorruptImage(ImageError):
    """The format is accepted but the data is broken: "corrupt image (truncated JPEG)"."""

    code = "corrupt_image"


class ImageTooLarge(ImageError):
    """Over the pixel or byte limit: "image too large: 30000x30000 is over the 50 MP limit"."""

    code = "image_too_large"


class TooManyFrames(ImageError):
    """Animation with more frames than allowed: "too many frames: 2000 is over the 1000 ..."."""

    code = "too_many_frames"


class InvalidStep(ValueError):
    """A bad filter step or option: "steps[1] blur: radius must be between 0 and 50 (got 80)".

    A ValueError rather than an ImageError: it is the request that is wrong, not the image, and
    the API answers it with a 400 before any job exists.
    """

    code = "invalid_step"
