"""Schema components added to drf-spectacular's, as plain data: settings.py imports this,
so it may import nothing that reads settings."""

#: SPECTACULAR_SETTINGS["APPEND_COMPONENTS"]: DRF's validation errors are a map from the field
#: (or query parameter) to its messages, or ``{"detail": ...}`` for a body that does not parse.
COMPONENTS = {
    "schemas": {
        "ValidationError": {
            "type": "object",
            "description": "Each bad field or query parameter, with its messages.",
            "additionalProperties": {
                "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
            },
            "example": {"faces_min": ["Enter a whole number."]},
        }
    }
}
