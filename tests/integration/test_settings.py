"""Configuration that only shows its effect against real services."""

import pytest
from django.conf import settings
from django.core.files.storage import default_storage

pytestmark = pytest.mark.integration


def test_s3_client_is_path_style_with_short_timeouts():
    if not settings.AWS_STORAGE_BUCKET_NAME:
        pytest.skip("local file storage: no S3 client (run under `make test`)")
    config = default_storage.connection.meta.client.meta.config
    assert config.s3["addressing_style"] == "path"  # MinIO and moto need path-style URLs
    assert config.connect_timeout <= 5 and config.read_timeout <= 30
