"""Every thumbnail of a project made ahead of browsing, so that scrolling never waits."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from core.progress import Reporter, silent

if TYPE_CHECKING:
    from core.store.project import Project

CHUNK = 256  # images per step: the unit a cancel waits for


def make_thumbnails(project: Project, cache_dir: str | os.PathLike, *, size: int = 128,
                    progress: Reporter | None = None) -> int:
    """Thumbnail every readable image (cancellable between chunks); returns how many images."""
    from core.data.thumbnails import ThumbnailCache
    from core.store.queries import ImageFilter, all_images

    progress = progress or silent()
    with project.session() as s:
        items = [(r.content_hash, r.abs_path) for r in all_images(s, ImageFilter(readable=True)) if r.content_hash]
    cache = ThumbnailCache(cache_dir, size=size)
    for start in range(0, len(items), CHUNK):
        progress.check()
        cache.ensure(items[start:start + CHUNK])
        done = min(start + CHUNK, len(items))
        progress.progress(done, len(items), f"{done}/{len(items)} thumbnails")
    return len(items)
