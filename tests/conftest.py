"""Shared fixtures: test images and storage helpers."""

from collections.abc import Callable
from pathlib import Path

import pytest

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"


@pytest.fixture
def image_bytes() -> Callable[[str], bytes]:
    """Bytes of a sample image from testdata/ (astronaut.png has one frontal face)."""

    def load(name: str) -> bytes:
        return (TESTDATA / name).read_bytes()

    return load
