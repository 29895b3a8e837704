"""The image under inspection: pixels, mask, history, attention and ablation, each loaded by a
worker and shown by passive widgets. Only the newest request matters: moving on to another image
cancels work queued for the previous one, and late results for it are dropped.

It follows the project state: the selection says which image, the model version says whose
attention; a relabel this window wrote is appended to the history from the state `set_label`
returned, without a query.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject

from app.attention.attention_results import AblationResult, AttentionResult
from app.attention.qt_attention_panel import QtAttentionPanel
from app.attention.service import AttentionService
from app.browser.tile import Tile
from app.project_state import ProjectState
from app.widgets.qt_history_panel import QtHistoryPanel
from app.widgets.qt_image_view import QtImageView, mask_outline_rgba
from app.widgets.qt_probability_bars import QtProbabilityBars
from app.workers import Worker, Workers
from usecases.labelling import label_events
from usecases.explanation_eval import trust_message
from usecases.prediction import attention_checkpoint

if TYPE_CHECKING:
    from core.store.records import LabelEventRecord


DETAILS_KEPT = 4
_NOTHING_SHOWN = object()


@dataclass(frozen=True, slots=True)
class ImageDetail:
    tile: Tile
    image: np.ndarray
    mask: np.ndarray | None  # bool (H, W)
    outline: np.ndarray | None = None  # RGBA (H, W, 4) of the mask's edge, for the view


class Inspection(QObject):

    def __init__(self, state: ProjectState, workers: Workers, view: QtImageView, bars: QtProbabilityBars,
                 attention: QtAttentionPanel, history: QtHistoryPanel, parent: QObject | None = None):
        super().__init__(parent)
        self._state = state
        self._workers = workers
        self.view, self.bars, self.attention, self.history = view, bars, attention, history
        self.service = AttentionService()
        self._model_id: object = _NOTHING_SHOWN  # the id of the version whose attention is shown
        self._history_of: int | None = None  # the image whose events the history panel shows
        self.tile: Tile | None = None
        self.detail: ImageDetail | None = None
        self.result: AttentionResult | None = None
        self.query: tuple[float, float] | None = None
        self.relevance_class: int | None = None  # the class the relevance map explains; None = predicted
        self._pending: dict[str, Worker] = {}
        self._details: OrderedDict[int, ImageDetail] = OrderedDict()  # decoded images, newest last
        view.clicked.connect(self._on_image_clicked)
        attention.overlay_changed.connect(self._on_overlay_changed)
        attention.opacity_changed.connect(view.set_overlay_opacity)
        attention.ablation_changed.connect(self._on_ablation_changed)
        attention.query_cleared.connect(lambda: self._on_image_clicked(None, None))
        attention.relevance_class_changed.connect(self._on_relevance_class)
        state.selection_changed.connect(self.show)
        state.labels_changed.connect(self._on_labels_changed)
        state.project_changed.connect(self._on_model_changed)
        state.model_changed.connect(self._on_model_changed)

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def _on_model_changed(self) -> None:
        version = self._state.model_version
        changed = self._state.model_version_id != self._model_id
        self._model_id = self._state.model_version_id
        self.attention.set_trust_warning(trust_message(version) if version is not None else None)
        names = list(version.class_names) if version is not None else self._state.class_names
        if self.bars.class_names != names:
            self.bars.set_classes(names)
        if changed and self.tile is not None:
            self.show(self.tile, force=True)

    def show(self, tile: Tile | None, force: bool = False) -> None:
        """Show a tile. The same image again (a page reload) only refreshes label-dependent parts."""
        same = tile is not None and self.tile is not None and tile.image_id == self.tile.image_id
        relabelled = same and tile.label_version != self.tile.label_version
        self.tile = tile
        if same and not force:
            self._update_label_marks()
            if relabelled:  # by anyone: this window, an undo, another inspector
                self._on_relabelled(tile)
            return
        self.detail, self.result, self.query, self.relevance_class = None, None, None, None
        for key in ("detail", "attention", "ablation", "history"):
            self._cancel(key)
        if tile is None:
            self.view.set_image(None)
            self.bars.set_probabilities(None)
            self.attention.set_result(None)
            self.history.set_events(None, [])
            self._history_of = None
            return
        cached = self._details.get(tile.image_id)
        if cached is not None and cached.tile.abs_path == tile.abs_path:
            self._on_detail(ImageDetail(tile, cached.image, cached.mask, cached.outline))
        else:
            self._run("detail", _load_detail, tile, on_result=self._on_detail)
        self.reload_history()

    def prefetch(self, tile: Tile | None) -> None:
        """Decode the next image while the user looks at this one (large camera images take a while)."""
        if tile is None or tile.image_id in self._details or self._pending.get("prefetch"):
            return
        self._run("prefetch", _load_detail, tile, on_result=self._remember, name="Prefetch")

    def reload_history(self) -> None:
        project, tile = self._state.project, self.tile
        if tile is None or project is None:
            return
        self._run("history", lambda _c: (tile.image_id, label_events(project, tile.image_id)), on_result=self._on_history)

    def _on_relabelled(self, tile: Tile) -> None:
        """This window's own write: append the event it returned (a label's version counts its
        events, so the history shown is complete when it holds version - 1 of them). Else read."""
        st = self._state.written_label(tile.image_id)
        shown = self.history.events if self._history_of == tile.image_id and "history" not in self._pending else None
        if (st is not None and st.event is not None and st.version == tile.label_version
                and shown is not None and len(shown) == st.version - 1):
            self._show_events(tile, [*shown, st.event])
        else:
            self.reload_history()

    # -- handlers

    def _remember(self, d: ImageDetail) -> None:
        self._details[d.tile.image_id] = d
        while len(self._details) > DETAILS_KEPT:
            self._details.popitem(last=False)

    def _on_detail(self, d: ImageDetail) -> None:
        self._remember(d)
        if self.tile is None or d.tile.image_id != self.tile.image_id:
            return
        self.detail = d
        self.view.set_image(d.image, d.outline)
        self.bars.set_probabilities(None)
        self._request_attention()

    def _on_labels_changed(self, change) -> None:
        """After an undo or redo, History shows the image it changed (the first, if several), even
        when another image is selected: the user sees what the step did."""
        if change.action not in ("undo", "redo") or not change.described:
            return
        image_id, path, _label = change.described[0]
        if self.tile is not None and image_id == self.tile.image_id:
            return  # the selected image: its own relabel path reloads the history
        project = self._state.project
        from core.data.file_checks import printable

        name = printable(path)
        self._run("history", lambda _c: label_events(project, image_id),
                  on_result=lambda events: self._show_history_of(image_id, name, events))

    def _show_history_of(self, image_id: int, name: str, events: list[LabelEventRecord]) -> None:
        self._history_of = image_id
        self.history.set_events(name, events)

    def _on_history(self, r: tuple[int, list[LabelEventRecord]]) -> None:
        image_id, events = r
        if self.tile is not None and image_id == self.tile.image_id:
            self._show_events(self.tile, events)

    def _show_events(self, tile: Tile, events: list[LabelEventRecord]) -> None:
        self._history_of = tile.image_id
        self.history.set_events(tile.name, events)

    def _on_image_clicked(self, x: float | None, y: float | None) -> None:
        if self.detail is None:
            return
        self.query = None if x is None else (x, y)
        self.view.set_query_point(self.query)
        self.attention.follow_query(self.query is not None)
        self._request_attention()

    def _request_attention(self) -> None:
        version, d = self._state.model_version, self.detail
        if d is None or version is None:
            self.attention.set_result(None)
            return
        checkpoint = attention_checkpoint(version)
        if checkpoint is None:
            self.attention.set_result(None)
            self.attention.set_pending(f"{version.name} is an ONNX export: its attention maps need the checkpoint it was "
                                       f"exported from ({version.meta.get('parent')}), which is not on this machine.")
            return
        if self.result is None:
            self.attention.set_pending(f"Computing the attention of {d.tile.name}…")
        self._run("attention", lambda _c, *a: self.service.analyse(*a), d.tile.image_id, version.id, checkpoint, d.image,
                  d.mask, self.query, self.relevance_class, pool="model", on_result=self._on_attention, name="Attention")

    def _on_relevance_class(self, target: int | None) -> None:
        self.relevance_class = target
        self._request_attention()

    def _on_attention(self, r: AttentionResult) -> None:
        if self.tile is None or r.image_id != self.tile.image_id:
            return
        self.result = r
        self.attention.set_result(r)
        self._update_label_marks()

    def _on_overlay_changed(self, heat) -> None:
        r = self.attention.result
        if heat is not None and (r is None or self.detail is None or r.image_id != self.detail.tile.image_id):
            return  # the panel still shows the previous image's maps; the next result replaces them
        self.view.set_overlay_label("relevance" if self.attention.mode == "Relevance" and r is not None
                                    and r.relevance is not None else "attention")
        self.view.set_overlay(heat)

    def _on_ablation_changed(self, off: frozenset) -> None:
        version, d = self._state.model_version, self.detail
        if d is None or version is None:
            return
        if not off:
            self._cancel("ablation")
            self.attention.set_ablation_summary("")
            self._update_label_marks()
            return
        checkpoint = attention_checkpoint(version)
        if checkpoint is None:
            return
        self._run("ablation", lambda _c, *a: self.service.ablate(*a), d.tile.image_id, checkpoint, d.image, off,
                  pool="model", on_result=self._on_ablation, name="Head ablation")

    def _on_ablation(self, r: AblationResult) -> None:
        if self.result is None or r.image_id != self.result.image_id or r.off != frozenset(self.attention.off):
            return
        self.bars.set_probabilities(r.probs, reference=self.result.probs, label=self._label_index())
        names = self.bars.class_names
        before, after = int(self.result.probs.argmax()), int(r.probs.argmax())
        heads = ", ".join(f"L{l}h{h}" for l, h in sorted(r.off))
        change = (f"{names[before]} {self.result.probs[before]:.1%} → {r.probs[before]:.1%}" if before == after else
                  f"prediction flips: {names[before]} → {names[after]} ({r.probs[after]:.1%})")
        self.attention.set_ablation_summary(f"Without {heads}: {change}")

    def _update_label_marks(self) -> None:
        if self.result is not None and not self.attention.off:
            self.bars.set_probabilities(self.result.probs, label=self._label_index())

    def _label_index(self) -> int | None:
        if self.tile is None or self.tile.label is None:
            return None
        try:
            return self.bars.class_names.index(self.tile.label)
        except ValueError:
            return None

    # -- workers

    def _run(self, key: str, fn, *args, pool: str = "default", on_result=None, name: str = "", **kw) -> None:
        self._cancel(key)
        w = self._workers.start(fn, *args, name=name or key.capitalize(), pool=pool, on_result=on_result, **kw)
        self._pending[key] = w
        w.signals.finished.connect(lambda key=key, w=w: self._pending.pop(key, None) if self._pending.get(key) is w else None)

    def _cancel(self, key: str) -> None:
        w = self._pending.pop(key, None)
        if w is not None:
            w.cancel()


def _load_detail(_ctx, tile: Tile) -> ImageDetail:
    from core.data.decode import load_image

    image = load_image(tile.abs_path)
    mask = outline = None
    if tile.mask_path:
        try:
            mask = load_image(tile.mask_path)
            mask = (mask if mask.ndim == 2 else mask.max(axis=2)) > 0
        except Exception:  # noqa: BLE001 - a broken mask must not hide the image
            mask = None
    if mask is not None and mask.shape == image.shape[:2]:
        outline = mask_outline_rgba(mask)
    return ImageDetail(tile, image, mask, outline)
