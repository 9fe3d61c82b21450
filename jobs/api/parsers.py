"""JSON input with bounds: nesting depth and number length; a breach is a 400, not a 500.

Python's json module raises RecursionError for very deep nesting and ValueError for an
integer of more than 4300 digits; neither is a JSONDecodeError, so without this they escaped
as server errors. Values that do parse are also held to a depth that any real request stays
far below, so later code walking them cannot recurse deeply either.
"""

import codecs
import json
import math
import re
from collections import deque
from typing import IO, Any

from django.conf import settings
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import DataAndFiles, JSONParser, MultiPartParser, get_encoding

# Deepest nesting accepted: a step list is 3 deep ([{"params": {...}}]).
MAX_JSON_DEPTH = 32

# Longest integer accepted. Python's own limit (4300 digits) is far above anything a parameter
# needs, and such an int still overflows float() in the step validators: refuse it here.
MAX_INT_DIGITS = 30


def _short_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError("number too long")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Iterative, so checking a deep value cannot itself overflow the stack."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def loads_bounded(text: str | bytes) -> Any:
    """json.loads that raises ValueError with a client-facing reason for every bad input."""
    try:
        value = json.loads(
            text, parse_int=_short_int, parse_float=_finite_float, parse_constant=_no_constants
        )
    except RecursionError:
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    except json.JSONDecodeError as error:
        raise ValueError(error.msg) from None
    except ValueError as error:
        # The int-digits limit names a Python function to call; say it in the client's words.
        reason = str(error)
        if "digits" in reason:
            reason = "number too long"
        raise ValueError(reason) from None
    if _depth_exceeds(value, MAX_JSON_DEPTH):
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep")
    return value


class BoundedJSONParser(JSONParser):
    """DRF's JSONParser, parsing with loads_bounded.

    The body's size is bounded before this runs: DRF reads JSON through request.body, which
    refuses more than DATA_UPLOAD_MAX_MEMORY_SIZE (RequestDataTooBig, a 413 in errors.py).
    """

    def parse(self, stream: IO[bytes], media_type: str | None = None,
              parser_context: dict | None = None) -> Any:
        raw = stream.read()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
            return loads_bounded(text)
        except ValueError as error:  # UnicodeDecodeError is a ValueError too
            raise ParseError(f"JSON parse error: {error}") from None


# --- multipart: file names ---------------------------------------------------------------------

#: Longest file name kept with a job (Job.original_name); Django would silently cut a longer
#: one to this length, keeping the extension.
MAX_FILE_NAME = 255
_FILE_NAME = re.compile(rb'filename="([^"\r\n]*)')


def file_name_problem(raw: bytes) -> str | None:
    """What is wrong with a multipart file name as sent (None: nothing)."""
    try:
        name = raw.decode()
    except UnicodeDecodeError:
        return "the file name is not valid UTF-8 text"
    if len(name) > MAX_FILE_NAME:
        return f"the file name is {len(name)} characters long; at most {MAX_FILE_NAME}"
    return None


class _CheckedDjangoParser(DjangoMultiPartParser):
    def sanitize_file_name(self, file_name: str) -> str | None:
        # Seen here in full: UploadedFile would cut it to 255 characters without a word.
        if len(file_name) > MAX_FILE_NAME:
            raise ValidationError({"file": [file_name_problem(file_name.encode()) or ""]})
        return super().sanitize_file_name(file_name)


# Bytes asked of the WSGI server per read of the request body.
READ_BLOCK = 1024 * 1024


class _Recording:
    """The request body as Django's parser reads it, keeping the last two chunks read, so a
    parse error can be traced to the part header that caused it.

    Read from the server READ_BLOCK at a time and handed to the parser in the pieces it asks
    for (64 KiB). Django's parser is cheapest with 64 KiB chunks (larger ones cost it more
    large allocations to slice and push back); gunicorn is cheapest asked for large reads (asked
    64 KiB at a time it buffers ahead and copies the rest of its buffer on every read): measured
    with benchmarks/e2e/api_cpu.py, docs/PERFORMANCE.md "The API's CPU per upload".
    """

    def __init__(self, stream: IO[bytes], block: int = READ_BLOCK) -> None:
        self._stream = stream
        self._block_size = block
        self._block = b""
        self._at = 0
        self.recent: deque[bytes] = deque(maxlen=2)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            data = self._block[self._at:] + self._stream.read()
            self._block, self._at = b"", 0
        else:
            if self._at >= len(self._block):
                self._block, self._at = self._stream.read(max(size, self._block_size)), 0
            data = self._block[self._at:self._at + size]  # a short read at a block's end
            self._at += len(data)
        self.recent.append(data)
        return data


class CheckedMultiPartParser(MultiPartParser):
    """DRF's MultiPartParser, with a 400 about the file name when the name is the problem.

    Django drops a part header that is not UTF-8 and refuses one over 1 KiB; either way the
    client got "Request max total header size exceeded", which names no culprit. A name too
    long for the job is refused here too, instead of being cut.
    """

    def parse(self, stream: IO[bytes], media_type: str | None = None,
              parser_context: dict | None = None) -> DataAndFiles:
        parser_context = parser_context or {}
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        recording = _Recording(stream)
        try:
            parser = _CheckedDjangoParser(
                meta, recording, request.upload_handlers, get_encoding(parser_context)
            )
            data, files = parser.parse()
        except MultiPartParserError as exc:
            for raw in _FILE_NAME.findall(b"".join(recording.recent)):
                problem = file_name_problem(raw)
                if problem:
                    raise ValidationError({"file": [problem]}) from None
            raise ParseError(f"Multipart form parse error - {exc}") from None
        return DataAndFiles(data, files)
