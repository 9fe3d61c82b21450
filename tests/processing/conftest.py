"""Fixtures for the processing tests: sample photos and guards that prove nothing decodes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PIL import Image, ImageFile

from processing.loader import open_image

from .images import photo, sample_bytes, save


@pytest.fixture(scope="session")
def big_jpeg() -> bytes:
    """A 4000x3000 photo as JPEG (the 12 MP phone case)."""
    return save(photo((4000, 3000)), "JPEG", quality=90)


@pytest.fixture
def cat() -> Image.Image:
    """chelsea.png as the loader returns it: 451x300 RGB."""
    return open_image(sample_bytes("chelsea.png"))


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make any pixel decode or image-memory allocation by Pillow fail loudly.

    tracemalloc cannot see Pillow's C allocations, so this is the proof that a refused
    header never reached the decoder: the returned list names every attempt.
    """
    attempts: list[str] = []

    def guard(name: str) -> Callable[..., None]:
        def refuse(*args: object, **kwargs: object) -> None:
            attempts.append(name)
            raise AssertionError(f"{name} called: pixels were about to be decoded")

        return refuse

    monkeypatch.setattr(ImageFile.ImageFile, "load", guard("ImageFile.load"))
    monkeypatch.setattr(Image.core, "new", guard("Image.core.new"))
    return attempts
