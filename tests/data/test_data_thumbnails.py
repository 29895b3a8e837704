"""Thumbnail cache: content-hash keys, never blocking get, atomic writes, damaged files remade."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from core.data.thumbnails import ThumbnailCache
from core.progress import Reporter


def _items(paths):
    return [(hashlib.sha256(p.read_bytes()).hexdigest(), p) for p in paths]


@pytest.fixture
def sources(tmp_path, write_image):
    return [write_image(tmp_path / "src" / "wide.png", (100, 300, 3)),
            write_image(tmp_path / "src" / "gray.png", (400, 200), seed=1),
            write_image(tmp_path / "src" / "small.png", (20, 30, 3), seed=2)]


def test_ensure_makes_thumbnails_keyed_by_hash(tmp_path, sources):
    cache = ThumbnailCache(tmp_path / "cache", size=64)
    items = _items(sources)
    assert all(cache.get(h) is None for h, _ in items)  # absent: None at once, nothing generated
    assert not (tmp_path / "cache").exists()
    calls = []
    assert cache.ensure(items, 2, progress=Reporter(lambda d, t, _m: calls.append((d, t)))) == {}
    assert calls[-1] == (3, 3)
    h_wide, h_gray, h_small = (h for h, _ in items)
    assert cache.path_for(h_wide) == tmp_path / "cache" / h_wide[:2] / f"{h_wide}.jpg"
    wide, gray, small = cache.get(h_wide), cache.get(h_gray), cache.get(h_small)
    assert wide.shape == (21, 64, 3)  # longest side = size, aspect kept
    assert gray.shape == (64, 32)  # grayscale stays one channel
    assert small.shape == (20, 30, 3)  # never enlarged
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_existing_thumbnails_are_not_remade_and_duplicates_made_once(tmp_path, sources):
    cache = ThumbnailCache(tmp_path / "cache", size=32)
    items = _items(sources)
    cache.ensure(items + items)
    stamps = {h: cache.path_for(h).stat().st_mtime_ns for h, _ in items}
    calls = []
    cache.ensure(items, progress=Reporter(lambda d, t, _m: calls.append((d, t))))
    assert calls == [(0, 0)]
    assert stamps == {h: cache.path_for(h).stat().st_mtime_ns for h, _ in items}


def test_damaged_file_is_dropped_by_get_and_remade(tmp_path, sources):
    cache = ThumbnailCache(tmp_path / "cache", size=32)
    items = _items(sources)
    cache.ensure(items)
    h = items[0][0]
    good = cache.get(h)
    cache.path_for(h).write_bytes(cache.path_for(h).read_bytes()[:40])  # truncated
    assert cache.get(h) is None and not cache.path_for(h).exists()
    cache.ensure(items)
    assert np.array_equal(cache.get(h), good)
    # verify=True finds damage without a get first.
    cache.path_for(h).write_bytes(b"garbage")
    cache.ensure(items, verify=True)
    assert np.array_equal(cache.get(h), good)


def test_bad_sources_are_reported_and_the_rest_made(tmp_path, sources):
    bad = tmp_path / "src" / "bad.png"
    bad.write_text("not an image")
    cache = ThumbnailCache(tmp_path / "cache", size=32)
    items = _items([*sources, bad])
    failures = cache.ensure(items)
    assert list(failures) == [items[-1][0]] and "not a recognised image" in failures[items[-1][0]]
    assert all(cache.get(h) is not None for h, _ in items[:-1])
    assert not cache.path_for(items[-1][0]).exists()


def test_hash_must_be_hex(tmp_path):
    cache = ThumbnailCache(tmp_path)
    for bad in ("../../etc/passwd", "", "zz" * 32, "ab/cd" * 8):
        with pytest.raises(ValueError):
            cache.path_for(bad)
