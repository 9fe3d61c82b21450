"""Every (path, method, status) an APIClient met in this test session, and the check that the
OpenAPI schema documents each of them (tests/jobs/test_openapi.py)."""

import re
from collections.abc import Iterable
from typing import Any

from rest_framework.test import APIClient

OBSERVED: set[tuple[str, str, int]] = set()

# Routes under /api/ that are no operation of the schema, each for a reason.
NOT_OPERATIONS = {
    "/api/v1/": "DRF's browsable index of the routes",
    "/api/docs/": "Swagger UI, the page that shows the schema",
    "/api/redoc/": "Redoc, the page that shows the schema",
}


def install() -> Any:
    """Wrap APIClient.request (every get/post/... goes through it); returns an undo."""
    original = APIClient.request

    def request(self: APIClient, **kwargs: Any) -> Any:
        response = original(self, **kwargs)
        wsgi = getattr(response, "wsgi_request", None)
        if wsgi is not None:
            OBSERVED.add((wsgi.path, wsgi.method, response.status_code))
        return response

    APIClient.request = request

    def undo() -> None:
        APIClient.request = original

    return undo


def undocumented(schema: dict[str, Any], observed: Iterable[tuple[str, str, int]]) -> list[str]:
    """One line per observed status the schema does not document for that operation."""
    templates = [
        (re.compile("^" + re.sub(r"\{[^}/]+\}", "[^/]+", path) + "$"), path)
        for path in schema["paths"]
    ]
    problems = []
    for path, method, status in sorted(observed):
        if status >= 500:
            continue  # a fault the test injected; the schema's description covers 500 once
        template = next((tmpl for pattern, tmpl in templates if pattern.match(path)), None)
        if template is None:
            # A 404 for a path with no route at all is Django's URL resolver, not the API's.
            if path.startswith("/api/") and path not in NOT_OPERATIONS and status != 404:
                problems.append(f"{method} {path}: {status}, and the route is not in the schema")
            continue
        operation = schema["paths"][template].get(method.lower())
        if operation is None:
            if status != 405:  # a method the route does not have: DRF's 405 says so
                problems.append(f"{method} {template}: {status}, and no such operation")
            continue
        if str(status) not in operation["responses"]:
            problems.append(
                f"{method} {template}: {status} met, documented {sorted(operation['responses'])}"
            )
    return problems
