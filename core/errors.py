"""Failures the user can fix, for the whole Qt-free core. Their message is one line, shown as-is
(no traceback): the CLI prints it, the GUI puts it in the status bar."""
from __future__ import annotations


class InspectorError(Exception):
    """Base for expected failures: bad input files, conflicts, missing resources."""


class CheckpointError(InspectorError):
    """A checkpoint file is missing, damaged, foreign or does not match the architecture."""


# -- images and datasets (core.data)

class ImageDecodeError(InspectorError):
    """A file is not a usable image: empty, truncated, corrupt, unsupported or too large."""


class ScanError(InspectorError):
    """A dataset cannot be scanned: missing folder, unknown layout, no images."""


class ManifestError(ScanError):
    """A CSV manifest is malformed; the message names the row (the header is row 1)."""


# -- the project store (core.store)

class StoreError(InspectorError):
    """The project file cannot be opened, is damaged, busy, or was written by a newer Inspector."""


class RetryableStoreError(StoreError):
    """The write did not happen but may succeed if tried again at once: the connection to the
    database server was lost (and is re-made), a deadlock or a lock wait timed out. Nothing was
    committed by the failed attempt."""


class NotAProjectYet(StoreError):
    """A server database that does not exist yet, or has no tables: an import makes it a project."""


class NotFound(InspectorError):
    """An image, class, model version, snapshot or job that was asked for does not exist."""


class UnknownClass(NotFound):
    """A label names a class the project does not have; the message lists the known ones."""

    def __init__(self, name: str, known: list[str]):
        self.name, self.known = name, known
        listing = ", ".join(known) if known else "(none yet: import a dataset first)"
        super().__init__(f"unknown class {name!r}; known classes: {listing}")


class LabelConflict(InspectorError):
    """Someone else changed the label after this caller read it (optimistic concurrency)."""

    def __init__(self, *, image: str, expected_version: int, version: int, user: str | None, label: str | None):
        self.image, self.expected_version, self.version = image, expected_version, version
        self.user, self.label = user, label
        super().__init__(
            f"label of {image} was changed by {user or 'unknown'} to {label if label is not None else '(unlabeled)'} "
            f"(version {version}, you had version {expected_version}); reload and try again"
        )
