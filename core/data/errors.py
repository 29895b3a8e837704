"""Errors of the data layer. Each message is one line a user can act on."""
from __future__ import annotations

from core.errors import InspectorError


class ImageDecodeError(InspectorError):
    """A file is not a usable image: empty, truncated, corrupt, unsupported or too large."""


class ScanError(InspectorError):
    """A dataset cannot be scanned: missing folder, unknown layout, no images."""


class ManifestError(ScanError):
    """A CSV manifest is malformed; the message names the row (the header is row 1)."""
