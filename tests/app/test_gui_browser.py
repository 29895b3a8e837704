"""The browser stays virtual: a 100,000-row query holds only a window of rows, thumbnails arrive from
workers; filters and sorting reach the store."""
from __future__ import annotations

from app.browser.filter_state import FilterState
from app.browser.image_list_model import ImageListModel, ThumbRole, TileRole
from app.browser.qt_thumbnail_grid import QtThumbnailGrid
from app.browser.thumbnail_provider import ThumbnailProvider
from app.browser.tile import Tile
from app.workers import Workers


class FakeSource:
    """100,000 rows; counts how many rows were ever fetched."""

    def __init__(self, n=100_000):
        self.n, self.fetched = n, 0

    def count(self, q):
        return self.n

    def page(self, q, offset, limit):
        rows = range(offset, min(offset + limit, self.n))
        self.fetched += len(rows)
        return [Tile(i, f"img{i:06d}.png", "/nowhere", None, "good", 0, "good", 0.99, None) for i in rows]


def test_hundred_thousand_rows_stay_windowed(qtbot):
    workers = Workers()
    source = FakeSource()
    model = ImageListModel(workers, source, ThumbnailProvider(workers, None))
    grid = QtThumbnailGrid(model)
    qtbot.addWidget(grid)
    grid.resize(900, 700)
    grid.show()
    model.set_query(None)
    qtbot.waitUntil(lambda: model.rowCount() == 100_000, timeout=5000)
    assert model.data(model.index(99_999), TileRole) is None  # a placeholder, fetched in the background
    bar = grid.verticalScrollBar()
    for k in range(0, 41):
        bar.setValue(bar.maximum() * k // 40)
        qtbot.wait(5)
    qtbot.waitUntil(lambda: model.pending_pages == 0, timeout=10000)
    assert len(model._pages) <= model.MAX_PAGES
    assert source.fetched < 100_000 // 4, f"fetched {source.fetched} rows for a scroll-through"
    grid.select_row(99_999)
    qtbot.waitUntil(lambda: grid.current_tile() is not None, timeout=5000)
    assert grid.current_tile().image_id == 99_999
    workers.shutdown()


def test_thumbnails_load_in_workers(qtbot, window, idle):
    win = window
    idle(win)
    tiles = win.browser.image_model.loaded_tiles()
    qtbot.waitUntil(lambda: win.browser.image_model.data(win.browser.image_model.index(0), ThumbRole) is not None, timeout=10000)
    img = win.browser.image_model.data(win.browser.image_model.index(0), ThumbRole)
    assert img.width() <= 128 and img.height() <= 128
    assert win.browser.thumbs.cache_dir is not None and any(win.browser.thumbs.cache_dir.rglob("*.jpg"))
    assert len(tiles) == 24


def test_filters_reach_the_store(qtbot, window, idle):
    win = window

    def apply(state):
        win.browser.apply_filter(state)
        qtbot.waitUntil(lambda: not win.browser.image_model.querying, timeout=10000)
        idle(win)
        return win.browser.image_model.loaded_tiles()

    tiles = apply(FilterState(sort="confidence"))
    confs = [t.confidence for t in tiles]
    assert confs == sorted(confs) and len(tiles) == 24
    assert all(t.disagrees for t in apply(FilterState(disagreement=True)))
    low = apply(FilterState(confidence=(0.0, 0.5)))
    assert all(t.confidence <= 0.5 for t in low)
    assert apply(FilterState(split="test")) and all(t.split == "test" for t in win.browser.image_model.loaded_tiles())
    assert apply(FilterState(unlabeled=True)) == []
    assert apply(FilterState(changed_by_me=True)) == []
    suspected = apply(FilterState(suspected=True, sort="-score"))
    scores = [t.review_score for t in suspected]
    assert scores == sorted(scores, reverse=True)
    # debounced: several edits in a row run one query at the end
    win.browser.filters.labels.boxes[0].setChecked(True)
    win.browser.filters.labels.boxes[1].setChecked(True)
    qtbot.waitUntil(lambda: {t.label for t in win.browser.image_model.loaded_tiles()} == {"good", "scratch"}, timeout=10000)
    idle(win)


def test_score_sort_puts_unscored_images_last_and_loads_every_tile(qtbot, window, idle):
    """Sorted by suspected-error score, End reaches tiles for every counted row: the images without
    a score come last (by name), none stays a placeholder."""
    from app.browser.filter_state import FilterState
    from app.browser.store_source import StoreTileSource, TileQuery

    from sqlalchemy import delete, select

    from core.store.schema import Image, ReviewScore

    win = window
    with win.state.project.session() as s:  # ten images the ranking left out
        ids = list(s.scalars(select(Image.id).order_by(Image.id).limit(10)))
        s.execute(delete(ReviewScore).where(ReviewScore.image_id.in_(ids)))
    win.browser.apply_filter(FilterState(sort="-score"))
    m = win.browser.image_model
    qtbot.waitUntil(lambda: not m.querying and m.rowCount() == 24, timeout=10000)
    win.browser.grid.select_row(m.rowCount() - 1)  # what End does
    qtbot.waitUntil(lambda: m.tile(23, request=True) is not None, timeout=10000)
    idle(win)
    tiles = [m.tile(r) for r in range(24)]
    assert all(t is not None for t in tiles)
    scored = [t for t in tiles if t.review_score is not None]
    assert len(scored) == 14
    assert tiles[: len(scored)] == scored  # the scored first, best first
    assert [t.review_score for t in scored] == sorted((t.review_score for t in scored), reverse=True)
    rest = tiles[len(scored):]
    assert [t.name for t in rest] == sorted(t.name for t in rest)
    assert win.inspection.tile is not None and win.inspection.tile.image_id == tiles[-1].image_id
    # page by page gives the same order as one big page
    source = StoreTileSource(win.state.project)
    q = TileQuery(FilterState(sort="-score"), win.state.model_version_id, "tester")
    paged = [t.image_id for off in range(0, 24, 5) for t in source.page(q, off, 5)]
    assert paged == [t.image_id for t in tiles]
