"""A team's project on a real PostgreSQL server in the window: opened from File > Open project on a
database server, browsed and labelled like a file, remembered without its password."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog

from app.settings import Settings
from support.postgres import pg_database, pg_server  # noqa: F401 (fixtures)
from support.synthetic_datasets import write_parts


def test_open_a_server_project_label_it_and_remember_it_without_the_password(qtbot, tmp_path, pg_database,
                                                                             monkeypatch):
    from sqlalchemy.engine import make_url

    from app.qt_main_window import QtMainWindow
    from usecases.dataset_import import import_dataset

    write_parts(tmp_path / "share", n=4)
    import_dataset(pg_database, tmp_path / "share", user="importer")
    import os

    secret = next(line.strip().rsplit(":", 1)[1] for line in open(os.environ["PGPASSFILE"]))
    typed = make_url(pg_database).set(password=secret).render_as_string(hide_password=False)  # typed into the box
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: (typed, True)))
    win = QtMainWindow(Settings())
    qtbot.addWidget(win)
    win.show()
    action = next(a for a in win.menuBar().actions()[0].menu().actions() if "database &server" in a.text())
    action.trigger()
    qtbot.waitUntil(lambda: win.state.is_open and win.is_idle(), timeout=20000)
    assert win.state.path is None and win.state.location.kind == "postgresql"
    assert make_url(pg_database).database in win.windowTitle()
    assert win.browser.image_model.rowCount() == 4  # write_parts: 4 images, good and scratch

    first = win.state.location  # label an image with the keyboard, as an inspector would
    win.browser.grid.select_row(0)
    qtbot.waitUntil(lambda: win.inspection.detail is not None, timeout=10000)
    tile = win.browser.grid.current_tile()
    assert tile.label == "good"
    win.browser.grid.setFocus()
    qtbot.keyClick(win.browser.grid, Qt.Key.Key_2)  # "scratch"
    qtbot.waitUntil(lambda: win.browser.grid.current_tile().label == "scratch" and win.is_idle(), timeout=10000)
    from core.store import open_project
    from usecases.labelling import label_events
    with open_project(first.display, create=False) as project:
        events = label_events(project, tile.image_id)
    assert (events[-1].source, events[-1].old, events[-1].new) == ("manual", "good", "scratch")

    saved = Settings().last_project
    assert saved == first.display and secret not in saved and secret not in win.windowTitle()
    win.shutdown()
