"""A disk cache of thumbnails keyed by image content hash.

    <cache_dir>/<first two hex digits>/<sha256>.jpg     (longest side <= size, aspect kept)

Keyed by content, not path: a moved or relocated dataset keeps its thumbnails, and an image that
was overwritten with new pixels gets a new one. `get` only reads what is on disk and never waits
for generation (the GUI asks for many thumbnails while scrolling); `ensure` generates the missing
ones with a thread pool. Files are written to a
temporary name and renamed, so a reader never sees half a thumbnail; a damaged file found by `get`
is deleted so that the next `ensure` makes it again.
"""
from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from PIL import Image

from core.data.decode import ImageDecodeError, decode_bytes, load_image
from core.progress import Reporter, silent

__all__ = ["ThumbnailCache"]

_HASH = re.compile(r"[0-9a-f]{16,128}")  # fullmatch: "$" would let a trailing newline through


class ThumbnailCache:
    def __init__(self, cache_dir: str | os.PathLike, size: int = 128, *, quality: int = 90):
        if size < 8:
            raise ValueError(f"thumbnail size must be at least 8, got {size}")
        self.cache_dir = Path(cache_dir)
        self.size = size
        self.quality = quality

    def path_for(self, content_hash: str) -> Path:
        h = content_hash.lower()
        if not _HASH.fullmatch(h):  # the hash becomes a file name: nothing else may get through
            raise ValueError(f"not a hex content hash: {content_hash!r}")
        return self.cache_dir / h[:2] / f"{h}.jpg"

    def get(self, content_hash: str) -> np.ndarray | None:
        """The thumbnail as uint8 (h, w) or (h, w, 3), or None if it is not (validly) on disk yet."""
        path = self.path_for(content_hash)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            return decode_bytes(data, name=str(path))
        except ImageDecodeError:
            # Damaged (a crash mid-copy, a full disk, a user's tinkering): drop it so ensure() redoes it.
            path.unlink(missing_ok=True)
            return None

    def ensure(
        self,
        items: Iterable[tuple[str, str | os.PathLike]],
        workers: int | None = None,
        *,
        progress: Reporter | None = None,
        verify: bool = False,
    ) -> dict[str, str]:
        """Make the missing thumbnails for (content_hash, image path) pairs, in parallel.

        Existing files are trusted unless `verify`, which decodes each one and remakes the damaged.
        Returns {content_hash: reason} for images that could not be thumbnailed.
        """
        todo: dict[str, Path] = {}
        for content_hash, path in items:
            h = content_hash.lower()
            if h not in todo and not self._present(h, verify):
                todo[h] = Path(path)
        failures: dict[str, str] = {}
        total = len(todo)
        progress = progress or silent()
        progress.progress(0, total, f"0/{total} thumbnails")
        if not todo:
            return failures
        with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1),
                                thread_name_prefix="thumbs") as pool:
            futures = {pool.submit(self._make, h, p): h for h, p in todo.items()}
            for done, fut in enumerate(as_completed(futures), 1):
                error = fut.result()
                if error:
                    failures[futures[fut]] = error
                progress.progress(done, total, f"{done}/{total} thumbnails")
        return failures

    def _present(self, content_hash: str, verify: bool) -> bool:
        if verify:
            return self.get(content_hash) is not None
        try:
            return self.path_for(content_hash).stat().st_size > 0
        except OSError:
            return False

    def _make(self, content_hash: str, source: Path) -> str | None:
        try:
            arr = load_image(source)
        except ImageDecodeError as e:
            return str(e)
        img = Image.fromarray(arr)
        img.thumbnail((self.size, self.size), Image.Resampling.LANCZOS, reducing_gap=3.0)
        target = self.path_for(content_hash)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{content_hash[:16]}.", suffix=".tmp", dir=target.parent)
        except OSError as e:
            return f"cannot write to the thumbnail cache {self.cache_dir}: {e.strerror or e}"
        try:
            with os.fdopen(fd, "wb") as f:
                img.save(f, format="JPEG", quality=self.quality)
            os.replace(tmp, target)
        except OSError as e:  # a full disk costs thumbnails, not the whole batch
            Path(tmp).unlink(missing_ok=True)
            return f"cannot write thumbnail {target.name}: {e.strerror or e}"
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return None
