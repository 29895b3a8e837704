"""A list model over a filtered, sorted image query that never holds more than a window of rows.

The total count comes first (one worker call, with the first page); rows are then fetched in pages
of PAGE by workers when the view asks for them, and at most MAX_PAGES pages stay cached (least
recently used go first). Until a page arrives its tiles are placeholders, so scrolling through
100,000 images never waits on the database and never queries per tile on the GUI thread.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Callable, Protocol

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal

from app.browser.thumbnail_provider import ThumbnailProvider
from app.browser.tile import Tile
from app.workers import Workers

PAGE_DELAY_MS = 25
WANTED_FOR_S = 0.12  # a page not painted for this long was scrolled past
MAX_IN_FLIGHT = 2

TileRole = Qt.ItemDataRole.UserRole + 1
ThumbRole = Qt.ItemDataRole.UserRole + 2


class TileSource(Protocol):
    """Runs in worker threads: each call opens its own database session."""

    def count(self, query: Any) -> int: ...

    def page(self, query: Any, offset: int, limit: int) -> list[Tile]: ...

    def tiles(self, query: Any, image_ids: list[int]) -> list[Tile]: ...


class ImageListModel(QAbstractListModel):
    PAGE = 256
    MAX_PAGES = 48

    query_finished = Signal(int)  # the new total, after a query was applied

    def __init__(self, workers: Workers, source: TileSource | None, thumbs: ThumbnailProvider, parent=None):
        super().__init__(parent)
        self._workers = workers
        self.source = source
        self.thumbs = thumbs
        self.query: Any = None
        self._total = 0
        self._generation = 0
        self._pages: OrderedDict[int, list[Tile]] = OrderedDict()
        self._pending: set[int] = set()
        self._wanted: dict[int, float] = {}  # page -> when it was last asked for
        self._page_timer = QTimer(self)
        self._page_timer.setSingleShot(True)
        self._page_timer.setInterval(PAGE_DELAY_MS)
        self._page_timer.timeout.connect(self._on_page_timer)
        self._rows_by_hash: dict[str, set[int]] = {}
        self._row_by_id: dict[int, int] = {}
        self.querying = False
        thumbs.loaded.connect(self._on_thumbnails_loaded)

    # -- queries

    def set_query(self, query: Any, on_done: Callable[[], None] | None = None) -> None:
        """Count and fetch the first page in a worker, then swap the model's contents at once."""
        self._generation += 1
        gen = self._generation
        self.query = query
        self.querying = True
        source = self.source

        def run(ctx, q=query):
            total = source.count(q)
            ctx.check()
            return total, source.page(q, 0, self.PAGE)

        self._workers.start(run, name="Query images",
                            on_result=lambda r, gen=gen: self._on_query_result(gen, *r),
                            on_done=lambda gen=gen: self._on_query_done(gen, on_done))

    def refresh(self, on_done: Callable[[], None] | None = None) -> None:
        """Re-run the current query (labels or predictions changed)."""
        self.set_query(self.query, on_done)

    def invalidate_rows(self, image_ids: list[int]) -> None:
        """Reload these images' tiles in place (after a label change).

        The rows stay where they are even if they no longer match the filter: an inspector
        relabelling with the keyboard must not see the image vanish and the next one jump under
        the cursor. The filter applies again at the next query.
        """
        ids = [i for i in image_ids if i in self._row_by_id]
        if not ids:
            return
        gen, q, source = self._generation, self.query, self.source
        self._workers.start(lambda ctx: source.tiles(q, ids), name="Reload rows",
                            on_result=lambda tiles, gen=gen: self._on_tiles(gen, tiles))

    def replace_tiles(self, tiles: list[Tile]) -> None:
        """Newer states of tiles on loaded pages, put in place (the others are fetched when shown)."""
        for t in tiles:
            row = self._row_by_id.get(t.image_id)
            page = self._pages.get(row // self.PAGE) if row is not None else None
            if page is None:
                continue
            page[row % self.PAGE] = t
            self.dataChanged.emit(self.index(row), self.index(row))

    def _on_tiles(self, gen: int, tiles: list[Tile]) -> None:
        if gen == self._generation:
            self.replace_tiles(tiles)

    # -- Qt model API

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._total

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        tile = self.tile(index.row())
        if role == TileRole:
            return tile
        if tile is None:
            return None
        if role == ThumbRole:
            return self.thumbs.get(tile)
        if role == Qt.ItemDataRole.DisplayRole:
            return tile.name
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [tile.name, f"label: {tile.label or '(unlabeled)'}"]
            if tile.predicted is not None:
                lines.append(f"predicted: {tile.predicted} ({tile.confidence:.1%})")
            if tile.review_score is not None:
                lines.append(f"label error score: {tile.review_score:.2f}")
            return "\n".join(lines)
        return None

    def flags(self, index):
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable if index.isValid() else Qt.ItemFlag.NoItemFlags

    # -- rows

    def tile(self, row: int, request: bool = True) -> Tile | None:
        if not 0 <= row < self._total:
            return None
        p = row // self.PAGE
        page = self._pages.get(p)
        if page is None:
            if request:
                self._request_page(p)
            return None
        self._pages.move_to_end(p)
        i = row - p * self.PAGE
        return page[i] if i < len(page) else None

    def row_of(self, image_id: int) -> int | None:
        return self._row_by_id.get(image_id)

    def loaded_tiles(self) -> list[Tile]:
        return [t for page in self._pages.values() for t in page]

    @property
    def pending_pages(self) -> int:
        return len(self._pending) + len(self._wanted)

    def _request_page(self, p: int) -> None:
        """Ask for a page. Requests are gathered for a moment and only pages painted recently are
        fetched: dragging the scroll bar across 100,000 rows loads what the eye stops at, not
        every page it flew past."""
        if p in self._pending or p in self._pages:
            return
        self._wanted[p] = time.monotonic()
        if not self._page_timer.isActive():
            self._page_timer.start()

    def _on_page_timer(self) -> None:
        now = time.monotonic()
        recent = sorted((t, p) for p, t in self._wanted.items() if now - t < WANTED_FOR_S)
        self._wanted.clear()
        for t, p in reversed(recent):  # newest first
            if len(self._pending) >= MAX_IN_FLIGHT:
                self._wanted[p] = t  # try again when a fetch finishes
            elif p not in self._pages:
                self._fetch(p)

    def _fetch(self, p: int) -> None:
        self._pending.add(p)
        gen, q, source = self._generation, self.query, self.source
        self._workers.start(lambda ctx: source.page(q, p * self.PAGE, self.PAGE), name="Load rows",
                            on_result=lambda rows, gen=gen, p=p: self._on_page(gen, p, rows),
                            on_done=lambda p=p, gen=gen: self._on_fetch_done(gen, p))

    def _on_fetch_done(self, gen: int, p: int) -> None:
        if gen != self._generation:
            return
        self._pending.discard(p)
        if self._wanted and not self._page_timer.isActive():
            self._page_timer.start()

    def _on_query_result(self, gen: int, total: int, first: list[Tile]) -> None:
        if gen != self._generation:
            return
        self.beginResetModel()
        self._total = total
        self._pages.clear()
        self._pending.clear()
        self._wanted.clear()
        self._rows_by_hash.clear()
        self._row_by_id.clear()
        self._store_page(0, first)
        self.endResetModel()

    def _on_query_done(self, gen: int, on_done: Callable[[], None] | None) -> None:
        if gen != self._generation:
            return
        self.querying = False
        self.query_finished.emit(self._total)
        if on_done:
            on_done()

    def _on_page(self, gen: int, p: int, rows: list[Tile]) -> None:
        if gen != self._generation:
            return
        self._store_page(p, rows)
        while len(self._pages) > self.MAX_PAGES:
            old, tiles = self._pages.popitem(last=False)
            for i, t in enumerate(tiles):
                self._row_by_id.pop(t.image_id, None)
                rows_ = self._rows_by_hash.get(t.content_hash or "")
                if rows_:
                    rows_.discard(old * self.PAGE + i)
        first, last = p * self.PAGE, min(p * self.PAGE + len(rows), self._total) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first), self.index(last))

    def _store_page(self, p: int, rows: list[Tile]) -> None:
        self._pages[p] = rows
        for i, t in enumerate(rows):
            row = p * self.PAGE + i
            self._row_by_id[t.image_id] = row
            if t.content_hash:
                self._rows_by_hash.setdefault(t.content_hash, set()).add(row)

    def _on_thumbnails_loaded(self, hashes: list[str]) -> None:
        rows = sorted({r for h in hashes for r in self._rows_by_hash.get(h, ())})
        if not rows:
            return
        # One signal per contiguous run of rows: usually a single run per batch.
        runs: list[list[int]] = []
        for r in rows:
            if runs and r == runs[-1][1] + 1:
                runs[-1][1] = r
            else:
                runs.append([r, r])
        for a, b in runs:
            self.dataChanged.emit(self.index(a), self.index(b), [ThumbRole])
