"""Plain records a scan produces. They cross into the store and the GUI, so no behaviour here."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file a layout reader found, before it is hashed and decoded."""

    rel_path: str  # POSIX, relative to the scan root
    label: str | None
    split: str | None = None
    mask_rel_path: str | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class ScannedImage:
    rel_path: str  # POSIX, relative to ScanResult.root
    label: str | None  # None = unlabeled
    split: str | None  # "train", "val", "test" or None
    mask_rel_path: str | None  # defect mask, relative to root (MVTec ground_truth)
    category: str | None  # MVTec object/texture category
    content_hash: str | None  # sha256 hex of the file bytes
    size_bytes: int | None
    width: int | None
    height: int | None
    channels: int | None  # 1 or 3 as load_image returns it
    error: str | None  # None = decodes fine


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A file or folder a scan left out without opening it, and why (one line, no path)."""

    rel_path: str  # POSIX, relative to ScanResult.root, made printable; folders end with "/"
    reason: str


@dataclass(slots=True)
class ScanResult:
    root: Path
    format: str  # "imagefolder", "mvtec", "csv" or "txt"
    class_names: list[str]
    images: list[ScannedImage] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)  # sorted by rel_path

    @property
    def errors(self) -> list[ScannedImage]:
        return [im for im in self.images if im.error is not None]


SPLIT_ALIASES = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "testing": "test",
}


def normalise_split(name: str) -> str | None:
    """Canonical split for a folder or column value, None if it is not a split name."""
    return SPLIT_ALIASES.get(name.strip().lower())
