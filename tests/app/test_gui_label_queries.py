"""The keyboard labelling path: a digit costs one read and the writes of set_label, nothing more.

Counted with a SQLAlchemy `before_cursor_execute` listener on the project's engine, which sees every
statement any thread sends: the write worker, and anything that would re-read the row or the
history afterwards (the tile and the history panel update from the state set_label returned).
"""
from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from sqlalchemy import event

MAX_READS_PER_KEY = 2  # the budget; set_label itself reads once


def _record_statements(engine):
    seen: list[str] = []
    lock = threading.Lock()

    def before(_conn, _cursor, statement, _params, _context, _executemany):
        with lock:
            seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", before)
    return seen, lambda: event.remove(engine, "before_cursor_execute", before)


def test_a_label_key_press_costs_one_read(qtbot, window, idle):
    win = window
    grid = win.browser.grid
    grid.select_row(0)
    tile = grid.current_tile()
    qtbot.waitUntil(lambda: win.inspection.detail is not None and len(win.history.rows()) == 1, timeout=10000)
    idle(win)
    new = next(n for n in win.state.class_names if n != tile.label)
    key = Qt.Key(Qt.Key.Key_1 + win.state.class_names.index(new))
    seen, stop = _record_statements(win.state.project.engine)
    try:
        grid.setFocus()
        qtbot.keyClick(grid, key)
        qtbot.waitUntil(lambda: grid.current_tile().label == new and len(win.history.rows()) == 2, timeout=10000)
        idle(win)
    finally:
        stop()
    reads = [s for s in seen if s.startswith("SELECT")]
    writes = [s for s in seen if not s.startswith("SELECT")]
    print(f"{len(reads)} read(s), {len(writes)} write(s) per key press:\n  " + "\n  ".join(seen))
    assert len(reads) <= MAX_READS_PER_KEY, reads
    assert [s.split()[0] + " " + s.split()[2 if s.startswith("INSERT") else 1] for s in writes] == [
        "INSERT label_group", "UPDATE label", "UPDATE image", "UPDATE prediction", "INSERT label_event"]
    assert win.history.rows()[0][2] == f"{tile.label} → {new}" and win.history.rows()[0][1] == "tester"
    assert grid.current_tile().label_version == tile.label_version + 1


def test_suspected_filter_is_exactly_the_marked_label_issues_with_counts(qtbot, window, idle):
    import re

    from app.browser.filter_state import FilterState
    from app.browser.tile_delegate import tile_status
    from core.store.schema import ReviewScore
    from sqlalchemy import func, select

    win = window
    model_id = win.state.model_version_id
    with win.state.project.session() as s:
        by_reason = dict(s.execute(select(ReviewScore.reason, func.count()).where(ReviewScore.model_id == model_id)
                                   .group_by(ReviewScore.reason)).all())
    issues = by_reason.get("label_issue", 0)
    assert sum(by_reason.values()) > issues  # other reasons exist, and must not be counted as suspected
    panel = win.browser.filters
    qtbot.waitUntil(lambda: "(" in panel.suspected.text(), timeout=10000)
    assert panel.suspected.text() == f"suspected label errors ({issues})"
    assert re.fullmatch(r"unlabeled only \(\d+\)", panel.unlabeled.text())
    win.browser.apply_filter(FilterState(suspected=True))
    qtbot.waitUntil(lambda: not win.browser.image_model.querying and win.browser.image_model.rowCount() == issues,
                    timeout=10000)
    idle(win)
    tiles = win.browser.image_model.loaded_tiles()
    assert len(tiles) == issues and all(tile_status(t) == "suspect" for t in tiles)
