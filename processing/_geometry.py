"""Size arithmetic shared by the loader (JPEG draft) and resize (fit_within)."""

from __future__ import annotations


def check_box(box: tuple[int, int]) -> tuple[int, int]:
    try:
        width, height = box
    except (TypeError, ValueError):
        raise ValueError(f"box must be (width, height) (got {box!r})") from None
    for value in (width, height):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"box must be two positive integers (got {box!r})")
    return width, height


def fitted_size(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The largest size with `size`'s aspect ratio inside `box`, never larger than `size`."""
    box_w, box_h = check_box(box)
    width, height = size
    scale = min(box_w / width, box_h / height)
    if scale >= 1:
        return width, height
    return (
        min(box_w, max(1, round(width * scale))),
        min(box_h, max(1, round(height * scale))),
    )


def dct_shrink(size: tuple[int, int], target: tuple[int, int]) -> int:
    """The JPEG DCT scale denominator (8, 4, 2 or 1) that still leaves at least `target`.

    The same choice as Pillow's JpegImageFile.draft, so both JPEG paths decode the same pixels.
    """
    scale = min(size[0] // target[0], size[1] // target[1])
    return next(shrink for shrink in (8, 4, 2, 1) if scale >= shrink)
