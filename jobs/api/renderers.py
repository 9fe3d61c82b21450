import json
from typing import Any

from rest_framework.renderers import BaseRenderer


class AnyMediaRenderer(BaseRenderer):
    """Lets a download action answer any Accept header (image/*, image/png, */*).

    The action returns a FileResponse, which is sent as it is; only an error (a dict) is
    rendered here, as JSON.
    """

    media_type = "*/*"
    format = "download"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: dict | None = None) -> bytes:
        if data is None:
            return b""
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return json.dumps(data).encode()
