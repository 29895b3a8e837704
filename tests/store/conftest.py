"""Fixtures for store tests: real projects on both backends (an SQLite file in tmp_path and a fresh
database on a real PostgreSQL server: `project` and `db_location` are parametrised), scans built by
hand (no image files needed). Helpers are handed out as fixtures (tests/ folders are not packages,
so conftest is not importable)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from core.data.scan_records import ScannedImage, ScanResult
from core.store import open_project
from core.store.ingest import import_scan
from support.postgres import db_location, pg_database, pg_server  # noqa: F401 (fixtures)


def _scanned(rel_path: str, label: str | None, *, split: str | None = None, content: str | None = None,
             error: str | None = None, category: str | None = None) -> ScannedImage:
    digest = hashlib.sha256((content or rel_path).encode()).hexdigest()
    return ScannedImage(rel_path=rel_path, label=label, split=split, mask_rel_path=None, category=category,
                        content_hash=digest, size_bytes=100, width=32, height=32, channels=3, error=error)


def _make_scan(root: Path, images: list[ScannedImage], classes: list[str] | None = None) -> ScanResult:
    names = classes if classes is not None else sorted({im.label for im in images if im.label})
    return ScanResult(root=Path(root), format="imagefolder", class_names=names, images=list(images))


def _small_scan(root: Path, n_per_class: int = 5) -> ScanResult:
    images = []
    for cls in ("good", "scratch", "dent"):
        for i in range(n_per_class):
            images.append(_scanned(f"{cls}/{i:03d}.png", cls, split="train" if i % 5 else "test"))
    return _make_scan(root, images, ["good", "scratch", "dent"])


@pytest.fixture
def scanned():
    """scanned(rel_path, label, split=, content=, error=) -> ScannedImage (hash from `content`)."""
    return _scanned


@pytest.fixture
def make_scan():
    """make_scan(root, images, classes=None) -> ScanResult."""
    return _make_scan


@pytest.fixture
def small_scan():
    """small_scan(root, n_per_class=5): good/scratch/dent, every 5th image split "test"."""
    return _small_scan


@pytest.fixture
def project(db_location):
    p = open_project(db_location)
    yield p
    p.close()


@pytest.fixture
def loaded(project, tmp_path):
    """A project with 15 images in three classes, imported as user "importer"."""
    with project.session() as s:
        import_scan(s, _small_scan(tmp_path / "data"), user="importer")
    return project
