"""Store failures the user can act on; all are InspectorError, so the CLI prints one line, no traceback."""
from __future__ import annotations

from core.errors import InspectorError


class StoreError(InspectorError):
    """The project file cannot be opened, is damaged, busy, or was written by a newer Inspector."""


class NotFound(InspectorError):
    """An image, class, model, snapshot or job that was asked for does not exist."""


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
