"""Label corrections from the GUI: one user action = one worker call = one transaction.

Writes go through the single-thread "write" pool, so they reach the database in the order the user
made them. What was written goes to `ProjectState.labels_changed`; a single label carries the
state `set_label` returned (event included), so nobody reads the row or its history again. A
`LabelConflict` (another inspector changed the label since this tile was read) is shown with the
other person's value and the rows are reloaded: nothing is silently overwritten.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.browser.tile import Tile
from app.project_state import LabelChange, ProjectState
from app.workers import Workers
from core.errors import LabelConflict
from usecases.labelling import describe_images, label_many, label_one, redo_last, undo_last


class LabelController(QObject):
    conflict = Signal(object)  # LabelConflict
    message = Signal(str)

    def __init__(self, state: ProjectState, workers: Workers, parent: QObject | None = None):
        super().__init__(parent)
        self._state = state
        self._workers = workers
        # image id -> label version after this window's own latest write. Read and written only on
        # the single "write" thread, so it is always in step with the database as far as our writes
        # go: a second key press before the grid reloaded its row must not conflict with the first.
        self._mine: dict[int, int] = {}
        self._project = None  # the project `_mine` is about
        state.project_changed.connect(self._on_project_changed)

    def _on_project_changed(self) -> None:
        if self._state.project is not self._project:  # not merely another user name
            self._project = self._state.project
            self._mine.clear()

    def _expected(self, tile: Tile) -> int:
        return max(tile.label_version, self._mine.get(tile.image_id, -1))

    def assign(self, tiles: list[Tile], label: str) -> None:
        project, user = self._state.project, self._state.user
        if project is None or not tiles:
            return
        # No "already labelled" shortcut here: the tile may be older than our own queued writes.
        if len(tiles) == 1:
            t = tiles[0]

            def run(_ctx) -> LabelChange:
                st = label_one(project, t.image_id, label, user=user, expected_version=self._expected(t))
                self._mine[t.image_id] = st.version
                return LabelChange("set", [t.image_id] if st.group_id else [], [], label, states=[st])
        else:
            def run(_ctx) -> LabelChange:
                w = label_many(project, {t.image_id: self._expected(t) for t in tiles}, label, user=user)
                self._mine.update(w.versions)
                return LabelChange("bulk", w.result.changed, w.result.skipped, label)

        self._start(run, f"Label {label}")

    def undo(self) -> None:
        self._revert("undo")

    def redo(self) -> None:
        self._revert("redo")

    def _revert(self, action: str) -> None:
        project, user = self._state.project, self._state.user
        if project is None:
            return

        def run(_ctx) -> LabelChange:
            w = (undo_last if action == "undo" else redo_last)(project, user=user)
            self._mine.update(w.versions)
            if w.result is None:
                return LabelChange(action, [], [], nothing=True)
            return LabelChange(action, w.result.changed, w.result.skipped,
                               described=describe_images(project, w.result.changed))

        self._start(run, action.capitalize())

    def _start(self, fn, name: str) -> None:
        self._workers.start(fn, name=name, pool="write", on_result=self._on_done, on_error=self._on_error)

    def _on_done(self, change: LabelChange) -> None:
        if change.nothing:
            self.message.emit(f"Nothing to {change.action}")
        elif not change.changed and not change.skipped:
            self.message.emit(f"Already labelled {change.label}")
        else:
            n = len(change.changed)
            what = {"set": f"Labelled {change.label}", "bulk": f"Labelled {n} images {change.label}",
                    "undo": "Undone: " + _named(change), "redo": "Redone: " + _named(change)}[change.action]
            if change.skipped:
                what += f"; {len(change.skipped)} skipped (changed since by someone else)"
            self.message.emit(what + ("  ·  Ctrl+Z to undo" if change.action in ("set", "bulk") else ""))
        self._state.labels_written(change)

    def _on_error(self, e: BaseException) -> None:
        if isinstance(e, LabelConflict):
            self.conflict.emit(e)


def _named(change: LabelChange) -> str:
    """"crack/0007.png is crack again", or "3 labels: a.png → good, b.png → crack and 1 more"."""
    from core.data.file_checks import printable

    items = [f"{printable(path)} → {label or '(unlabeled)'}" for _id, path, label in change.described]
    n = len(change.changed)
    if n == 1 and items:
        return items[0].replace(" → ", " is ", 1) + (" again" if change.action == "undo" else "")
    more = f" and {n - len(items)} more" if n > len(items) else ""
    return f"{n} labels: " + ", ".join(items) + more


def conflict_box(parent: QWidget, e: LabelConflict) -> QMessageBox:
    """Says whose change won and that ours was not saved (non-modal; deletes itself when closed)."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Label changed by someone else",
                      f"{e.user or 'Another inspector'} set this image to "
                      f"“{e.label if e.label is not None else '(unlabeled)'}” (version {e.version}) after you loaded it "
                      f"(version {e.expected_version}).\n\nYour change was not saved. The current value is shown now; "
                      "press the digit again to override it.", QMessageBox.StandardButton.Ok, parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
