"""Exceptions for failures the user can fix. Their message is one line, shown as-is (no traceback)."""


class InspectorError(Exception):
    """Base for expected failures: bad input files, conflicts, missing resources."""


class CheckpointError(InspectorError):
    """A checkpoint file is missing, damaged, foreign or does not match the architecture."""
