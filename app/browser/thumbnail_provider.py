"""Thumbnails for the grid: an in-memory LRU of QImages in front of core.data's disk cache.

The grid asks `get(tile)` while painting; a miss returns None (the delegate paints a placeholder)
and queues the image. A timer hands the queue to the "thumbs" pool in batches, newest requests
first, so what is on screen now loads before what was scrolled past. QImages are built in the
worker (QImage, unlike QPixmap, is safe off the GUI thread).
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

from app.browser.tile import Tile
from app.workers import Workers

BATCH = 32
# 1500 colour thumbnails of 128 px are about 75 MB: dozens of screens of scroll-back, bounded.
CAPACITY = 1500
MAX_QUEUE = 512  # older requests beyond this were scrolled past: drop them


class ThumbnailProvider(QObject):
    loaded = Signal(list)  # content hashes now in memory

    def __init__(self, workers: Workers, cache_dir: str | Path | None, size: int = 128, capacity: int = CAPACITY, parent=None):
        super().__init__(parent)
        self._workers = workers
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.size = size
        self.capacity = capacity
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._queue: OrderedDict[str, str] = OrderedDict()  # hash -> abs path
        self._in_flight: set[str] = set()
        self._failed: set[str] = set()
        self._busy = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(15)
        self._timer.timeout.connect(self._on_flush)
        self._disk = None

    def get(self, tile: Tile) -> QImage | None:
        key = tile.content_hash
        if not key or key in self._failed:
            return None
        img = self._images.get(key)
        if img is not None:
            self._images.move_to_end(key)
            return img
        if key not in self._in_flight:
            self._queue[key] = tile.abs_path
            self._queue.move_to_end(key)
            while len(self._queue) > MAX_QUEUE:
                self._queue.popitem(last=False)
            if not self._timer.isActive():
                self._timer.start()
        return None

    def set_cache_dir(self, cache_dir: str | Path | None) -> None:
        """Another project: its own disk cache, nothing kept from the previous one."""
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._disk = None
        self._images.clear()
        self._queue.clear()
        self._failed.clear()

    @property
    def idle(self) -> bool:
        return not self._queue and not self._in_flight

    def _on_flush(self) -> None:
        while self._queue and self._busy < 2:
            batch = []
            while self._queue and len(batch) < BATCH:
                batch.append(self._queue.popitem(last=True))
            self._in_flight.update(h for h, _ in batch)
            self._busy += 1
            self._workers.start(self._load, batch, name="Thumbnails", pool="thumbs",
                                on_result=self._on_batch, on_done=lambda b=batch: self._on_batch_done(b))

    def _load(self, ctx, batch: list[tuple[str, str]]) -> dict[str, QImage | None]:
        disk = self._disk_cache()
        out: dict[str, QImage | None] = {}
        if disk is not None:
            disk.ensure(batch, workers=1)
        for h, path in batch:
            if ctx.cancelled:
                break
            try:
                arr = disk.get(h) if disk is not None else None
                if arr is None:
                    arr = _thumbnail(path, self.size)
                out[h] = to_qimage(arr)
            except Exception:  # noqa: BLE001 - an unreadable file shows as a broken tile, not an error box
                out[h] = None
        return out

    def _disk_cache(self):
        if self._disk is None and self.cache_dir is not None:
            try:
                from core.data.thumbnails import ThumbnailCache
            except ImportError:
                return None
            self._disk = ThumbnailCache(self.cache_dir, size=self.size)
        return self._disk

    def _on_batch(self, images: dict[str, QImage | None]) -> None:
        ok = []
        for h, img in images.items():
            if img is None:
                self._failed.add(h)
                continue
            self._images[h] = img
            ok.append(h)
        while len(self._images) > self.capacity:
            self._images.popitem(last=False)
        if ok:
            self.loaded.emit(ok)

    def _on_batch_done(self, batch: list[tuple[str, str]]) -> None:
        self._busy -= 1
        self._in_flight.difference_update(h for h, _ in batch)
        if self._queue and not self._timer.isActive():
            self._timer.start()


def _thumbnail(path: str, size: int) -> np.ndarray:
    from PIL import Image

    from core.data.decode import load_image

    arr = load_image(path)
    im = Image.fromarray(arr)
    im.thumbnail((size, size))
    return np.asarray(im)


def to_qimage(arr: np.ndarray) -> QImage:
    """uint8 (H, W) or (H, W, 3) -> a QImage that owns its pixels."""
    arr = np.ascontiguousarray(arr)
    h, w = arr.shape[:2]
    if arr.ndim == 2:
        return QImage(arr.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    if arr.shape[2] == 4:
        return QImage(arr.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
