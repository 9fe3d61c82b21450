"""Built-in detectors, one module each, behind the registry in `processing.detect`.

Every detector is a function `(PIL RGB image) -> dict` of JSON-ready values. They share the
arrays they derive from the image (grey copy, thumbnails) through `_frame.frame_of`, so a full
`detect()` converts the image once instead of once per detector.
"""
