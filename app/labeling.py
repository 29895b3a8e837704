"""Label corrections from the GUI: one user action = one worker call = one transaction.

Writes go through the single-thread "write" pool, so they reach the database in the order the user
made them. A `LabelConflict` (another inspector changed the label since this tile was read) is
shown with the other person's value and the rows are reloaded: nothing is silently overwritten.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from app.browser.tile import Tile
from app.workers import Workers


@dataclass(frozen=True, slots=True)
class LabelOutcome:
    action: str  # "set", "bulk", "undo", "redo"
    changed: list[int]
    skipped: list[tuple[int, str]]
    label: str | None = None
    nothing: bool = False  # undo/redo with an empty stack


class Labeling(QObject):
    changed = Signal(object)  # LabelOutcome
    conflict = Signal(object)  # core.errors.LabelConflict
    message = Signal(str)

    def __init__(self, workers: Workers, parent: QObject | None = None):
        super().__init__(parent)
        self._workers = workers
        self.ctx = None
        # image id -> label version after this window's own latest write. Read and written only on
        # the single "write" thread, so it is always in step with the database as far as our writes
        # go: a second key press before the grid reloaded its row must not conflict with the first.
        self._mine: dict[int, int] = {}

    def _expected(self, tile: Tile) -> int:
        return max(tile.label_version, self._mine.get(tile.image_id, -1))

    def _remember(self, session, image_ids) -> None:
        from core.store.labels import label_state

        for i in image_ids:
            self._mine[i] = label_state(session, i).version

    def assign(self, tiles: list[Tile], label: str) -> None:
        if self.ctx is None or not tiles:
            return
        ctx = self.ctx
        # No "already labelled" shortcut here: the tile may be older than our own queued writes.
        if len(tiles) == 1:
            t = tiles[0]

            def run(_c):
                from core.store.labels import set_label

                with ctx.project.session() as s:
                    st = set_label(s, t.image_id, label, user=ctx.user, source="manual", expected_version=self._expected(t))
                self._mine[t.image_id] = st.version
                return LabelOutcome("set", [t.image_id] if st.group_id else [], [], label)
        else:
            def run(_c):
                from core.store.labels import bulk_set_labels

                versions = {t.image_id: self._expected(t) for t in tiles}
                with ctx.project.session() as s:
                    r = bulk_set_labels(s, list(versions), label, user=ctx.user, expected_versions=versions)
                    self._remember(s, r.changed)
                return LabelOutcome("bulk", r.changed, r.skipped, label)

        self._start(run, f"Label {label}")

    def undo(self) -> None:
        self._revert("undo")

    def redo(self) -> None:
        self._revert("redo")

    def _revert(self, action: str) -> None:
        if self.ctx is None:
            return
        ctx = self.ctx

        def run(_c):
            from core.store import labels

            with ctx.project.session() as s:
                r = (labels.undo if action == "undo" else labels.redo)(s, user=ctx.user)
                if r is not None:
                    self._remember(s, r.changed)
            if r is None:
                return LabelOutcome(action, [], [], nothing=True)
            return LabelOutcome(action, r.changed, r.skipped)

        self._start(run, action.capitalize())

    def _start(self, fn, name: str) -> None:
        self._workers.start(fn, name=name, pool="write", on_result=self._on_done, on_error=self._on_error)

    def _on_done(self, out: LabelOutcome) -> None:
        if out.nothing:
            self.message.emit(f"Nothing to {out.action}")
        elif not out.changed and not out.skipped:
            self.message.emit(f"Already labelled {out.label}")
        else:
            n = len(out.changed)
            what = {"set": f"Labelled {out.label}", "bulk": f"Labelled {n} images {out.label}",
                    "undo": f"Undone: {n} label(s) restored", "redo": f"Redone: {n} label(s)"}[out.action]
            if out.skipped:
                what += f"; {len(out.skipped)} skipped (changed since by someone else)"
            self.message.emit(what + ("  ·  Ctrl+Z to undo" if out.action in ("set", "bulk") else ""))
        self.changed.emit(out)

    def _on_error(self, e: BaseException) -> None:
        from core.errors import LabelConflict

        if isinstance(e, LabelConflict):
            self.conflict.emit(e)
