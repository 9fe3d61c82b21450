"""The OpenAPI schema is valid, tells the real status codes, and Swagger UI / Redoc serve it."""

import io
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from drf_spectacular.generators import SchemaGenerator
from openapi_spec_validator import validate

from tests.jobs import status_recorder

pytestmark = pytest.mark.django_db


def _schema(api) -> dict[str, Any]:
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi(api):
    schema = _schema(api)
    validate(schema)  # raises OpenAPIValidationError with the path of the fault
    assert schema["openapi"].startswith("3.")


def test_schema_validation_catches_a_broken_schema(api):
    schema = _schema(api)
    schema["paths"]["/api/v1/jobs/"]["post"]["responses"]["202"] = {"content": "nonsense"}
    with pytest.raises(Exception, match="description|content"):
        validate(schema)


def test_upload_is_documented_as_multipart_202_with_its_errors_and_an_example(api):
    upload = _schema(api)["paths"]["/api/v1/jobs/"]["post"]
    assert set(upload["responses"]) == {"202", "400", "401", "403", "413", "415", "422", "429"}
    assert "Idempotency-Key" in {p["name"] for p in upload["parameters"] if p["in"] == "header"}
    assert "201" not in upload["responses"]
    body = upload["requestBody"]["content"]
    assert list(body) == ["multipart/form-data"]
    schema = _schema(api)
    fields = schema["components"]["schemas"]["JobCreateRequest"]["properties"]
    assert fields["file"] == {"type": "string", "format": "binary",
                              "description": fields["file"]["description"]}
    assert {"steps", "output_format", "webhook_url", "preset"} <= set(fields)
    accepted = upload["responses"]["202"]["content"]["application/json"]
    assert accepted["examples"]["Queued"]["value"]["status"] == "queued"
    too_large = upload["responses"]["413"]["content"]["application/json"]
    assert too_large["schema"] == {"$ref": "#/components/schemas/Error"}


def test_error_shapes_and_route_specific_statuses(api):
    schema = _schema(api)
    paths = schema["paths"]
    assert set(paths["/api/v1/jobs/{id}/"]["delete"]["responses"]) >= {"204", "401", "404"}
    assert "409" in paths["/api/v1/jobs/{id}/cancel/"]["post"]["responses"]
    assert "409" in paths["/api/v1/jobs/{id}/reprocess/"]["post"]["responses"]
    assert "404" in paths["/api/v1/jobs/{id}/result/"]["get"]["responses"]
    listing = paths["/api/v1/jobs/"]["get"]
    assert listing["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationError"
    }
    names = {parameter["name"] for parameter in listing["parameters"]}
    assert {"label", "faces_min", "faces_max", "color", "orientation", "document", "owner",
            "search", "status", "stage", "created_after", "page", "page_size"} <= names
    components = schema["components"]["schemas"]
    assert set(components["Error"]["properties"]) == {"detail", "code"}
    assert {"quota", "limit", "used"} <= set(components["QuotaError"]["properties"])
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert "401" in operation["responses"], (method, path)
            assert "429" in operation["responses"], (method, path)


def test_swagger_ui_and_redoc_serve_local_assets(api):
    for url, asset in (
        ("/api/docs/", "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"),
        ("/api/redoc/", "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"),
    ):
        page = api.get(url)
        assert page.status_code == 200
        html = page.content.decode()
        assert f"/static/{asset}" in html and "cdn.jsdelivr" not in html
        assert "/api/schema/" in html
        assert finders.find(asset), asset  # shipped by drf-spectacular-sidecar


def test_docs_pages_refuse_anonymous_callers_with_json(anon):
    for url in ("/api/docs/", "/api/redoc/"):
        refused = anon.get(url)
        assert refused.status_code == 401
        assert refused.json()["detail"] == "Authentication credentials were not provided."


def test_the_status_check_reports_an_undocumented_status():
    schema = {"paths": {"/api/v1/jobs/{id}/": {"get": {"responses": {"200": {}, "404": {}}}}}}
    met = {
        ("/api/v1/jobs/abc/", "GET", 200), ("/api/v1/jobs/abc/", "GET", 418),
        ("/api/v1/jobs/abc/", "PUT", 405), ("/api/v1/nowhere/", "GET", 404),
        ("/api/v1/nowhere/", "GET", 200), ("/healthz", "GET", 200),
        ("/api/v1/jobs/abc/", "GET", 500),
    }
    assert status_recorder.undocumented(schema, met) == [
        "GET /api/v1/jobs/{id}/: 418 met, documented ['200', '404']",
        "GET /api/v1/nowhere/: 200, and the route is not in the schema",
    ]


def test_the_recorder_sees_what_api_clients_meet(api):
    upload = io.BytesIO(b"not an image")
    upload.name = "note.txt"
    api.post("/api/v1/jobs/", {"file": upload}, format="multipart")
    assert ("/api/v1/jobs/", "POST", 415) in status_recorder.OBSERVED


@pytest.mark.after_all_api_tests
def test_every_status_the_test_suite_met_is_documented():
    if len(status_recorder.OBSERVED) < 100:
        pytest.skip("run with the rest of tests/jobs: it checks what their requests met")
    schema = SchemaGenerator().get_schema(request=None, public=True)
    problems = status_recorder.undocumented(schema, status_recorder.OBSERVED)
    assert not problems, "\n".join(problems)
