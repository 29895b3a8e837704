"""The attention panel shows every head of the chosen layer with the model's alphas, the overlay
matches the image pixel for pixel, and switching a head off changes the probabilities shown."""
from __future__ import annotations

import numpy as np


def _model_alphas(win):
    from core.model.checkpoint import load_checkpoint

    model, _ = load_checkpoint(win.state.model_version.path)
    return [a.detach().numpy() for a in model.alphas()]


def test_attention_panel_heads_alphas_overlay_ablation(qtbot, window, idle):
    win = window
    win.browser.grid.select_row(0)
    qtbot.waitUntil(lambda: win.inspection.result is not None, timeout=20000)
    idle(win)
    panel = win.attention
    alphas = _model_alphas(win)
    for layer in (len(alphas) - 1, 0, len(alphas) - 1):
        panel.select_layer(layer)
        lm = panel.current_layer
        assert len(panel.tiles) == lm.num_heads == len(alphas[layer])
        assert all(t.isVisible() for t in panel.tiles)
        from app.attention.qt_head_tile import QtHeadTile

        assert len(panel.findChildren(QtHeadTile)) == lm.num_heads  # no tiles left from another layer
        np.testing.assert_allclose(lm.alphas, alphas[layer], rtol=1e-6)
        np.testing.assert_allclose(panel.alpha_bars.bars.opts["height"], alphas[layer], rtol=1e-6)

    # the overlay is drawn at the image's exact size, on top of the image
    h, w = win.image_pane.view.image_shape
    overlay = win.image_pane.view.overlay_item.image
    assert overlay is not None and overlay.shape == (h, w)
    # same place in the view, pixel for pixel
    view = win.image_pane.view
    assert view.overlay_item.mapRectToView(view.overlay_item.boundingRect()) == \
        view.image_item.mapRectToView(view.image_item.boundingRect())
    for mode in ("Layer mean", "Rollout", "Selected head"):
        panel.mode_combo.setCurrentText(mode)
        assert win.image_pane.view.overlay_item.image.shape == (h, w)

    # a click on the alpha bar chart selects a head
    panel.select_head(2)
    assert panel.head == 2 and panel.tiles[2].canvas.selected

    before = win.image_pane.bars.probs.copy()
    panel.set_head_enabled(1, False)
    qtbot.waitUntil(lambda: not np.allclose(win.image_pane.bars.probs, before, atol=1e-7), timeout=20000)
    assert panel.off == {(panel.layer, 1)}
    assert panel.ablation_label.text().startswith(f"Without L{panel.layer}h1")
    panel.reset_heads.click()
    qtbot.waitUntil(lambda: np.allclose(win.image_pane.bars.probs, before, atol=1e-6), timeout=20000)
    assert panel.ablation_label.isHidden()
    idle(win)


def test_query_point_changes_maps(qtbot, window, idle):
    win = window
    win.browser.grid.select_row(0)
    qtbot.waitUntil(lambda: win.inspection.result is not None, timeout=20000)
    idle(win)
    first = win.attention.current_layer.maps.copy()
    overlay = win.image_pane.view.overlay_item.image.copy()
    assert win.attention.mode == "Relevance"
    win.image_pane.view.clicked.emit(5.0, 5.0)
    qtbot.waitUntil(lambda: win.inspection.result.query == (5.0, 5.0), timeout=20000)
    idle(win)
    assert not np.allclose(win.attention.current_layer.maps, first)
    # the main overlay follows the click too: the layer's map for that spot
    assert win.attention.mode == "Layer mean"
    assert not np.allclose(win.image_pane.view.overlay_item.image, overlay)
    win.attention.clear_query.click()
    qtbot.waitUntil(lambda: win.inspection.result.query is None, timeout=20000)
    idle(win)
    assert win.attention.mode == "Relevance"


def test_mask_outline_shown_for_defect_images(qtbot, window, idle):
    from app.browser.filter_state import FilterState

    win = window
    win.browser.apply_filter(FilterState(labels=("spot",)))
    qtbot.waitUntil(lambda: win.browser.image_model.rowCount() == 8 and not win.browser.image_model.querying, timeout=10000)
    win.browser.grid.select_row(0)
    qtbot.waitUntil(lambda: win.inspection.result is not None, timeout=20000)
    assert win.inspection.detail.mask is not None
    assert win.image_pane.view.mask_item.image is not None
    lm = win.attention.current_layer
    assert lm.alignment is not None and len(lm.alignment) == lm.num_heads
    idle(win)


def _click_view(qtbot, plot_widget, viewbox, x, y):
    from PySide6.QtCore import QPointF, Qt

    scene = viewbox.mapViewToScene(QPointF(x, y))
    pos = plot_widget.mapFromScene(scene)
    qtbot.mouseClick(plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_mouse_clicks_select_head_and_query(qtbot, window, idle):
    win = window
    win.browser.grid.select_row(0)
    qtbot.waitUntil(lambda: win.inspection.result is not None, timeout=20000)
    idle(win)
    bars = win.attention.alpha_bars
    alpha = float(bars.alphas[3])
    _click_view(qtbot, bars.plot, bars.plot.getViewBox(), 3, alpha / 2)
    assert win.attention.head == 3
    view = win.image_pane.view
    h, w = view.image_shape
    _click_view(qtbot, view.graphics, view.view, w * 0.75, h * 0.25)
    qtbot.waitUntil(lambda: win.inspection.result.query is not None, timeout=20000)
    qx, qy = win.inspection.result.query
    assert abs(qx - w * 0.75) < 2 and abs(qy - h * 0.25) < 2
    idle(win)


def test_overlay_of_a_large_image_is_capped_but_aligned(qtbot):
    import pyqtgraph as pg

    from app.attention.qt_attention_panel import overlay_size
    from core.inference.upsample import upsample_bilinear
    from app.widgets.qt_image_view import QtImageView

    pg.setConfigOptions(imageAxisOrder="row-major")
    view = QtImageView()
    qtbot.addWidget(view)
    image = np.zeros((3000, 4500), np.uint8)
    view.set_image(image)
    size = overlay_size(image.shape)
    assert size == (683, 1024)
    token_map = np.arange(14 * 14, dtype=np.float32).reshape(14, 14)
    view.set_overlay(upsample_bilinear(token_map, size))
    img_rect = view.image_item.mapRectToView(view.image_item.boundingRect())
    ov_rect = view.overlay_item.mapRectToView(view.overlay_item.boundingRect())
    assert abs(ov_rect.width() - img_rect.width()) < 1e-6 and abs(ov_rect.height() - img_rect.height()) < 1e-6
    assert ov_rect.topLeft() == img_rect.topLeft()


def test_relevance_is_the_default_overlay_for_a_chosen_class_and_untrustworthy_maps_are_flagged(qtbot, window, idle):
    """The overlay starts as the class-specific relevance map (of the predicted class); another
    class in the panel's class box recomputes it for that class; a model whose measured maps are no
    better than chance gets the warning in plain words above the heads."""
    from core.inference.upsample import upsample_bilinear
    from core.store.model_versions import save_evaluation

    win = window
    panel = win.attention
    win.browser.grid.select_row(0)
    qtbot.waitUntil(lambda: win.inspection.result is not None, timeout=20000)
    idle(win)
    r = win.inspection.result
    assert panel.mode == "Relevance" and r.relevance is not None
    assert r.relevance_class == int(np.argmax(r.probs))
    assert panel.class_combo.currentText().startswith("predicted: ")
    np.testing.assert_allclose(win.image_pane.view.overlay_item.image, upsample_bilinear(r.relevance, r.image_size),
                               rtol=1e-5, atol=1e-7)
    other = next(i for i in range(len(r.class_names)) if i != r.relevance_class)
    index = panel.class_combo.findData(other)
    panel.class_combo.setCurrentIndex(index)
    panel.class_combo.activated.emit(index)
    qtbot.waitUntil(lambda: win.inspection.result.relevance_class == other, timeout=20000)
    idle(win)
    assert not np.allclose(win.inspection.result.relevance, r.relevance)
    assert panel.class_combo.currentData() == other

    assert not panel.trust_label.isVisible()
    untrusted = {"method": "gradient", "images": 40, "better_than_random": 0.45, "ci_low": 0.31, "ci_high": 0.6,
                 "deletion_auc": 0.3, "pointing": None}
    with win.state.project.session(write=True) as s:
        save_evaluation(s, win.state.model_version_id, "faithfulness",
                        {"default": "gradient", "images": 40, "methods": {"gradient": untrusted,
                                                                          "random": dict(untrusted, method="random")}})
    win.controller.browse_version()
    qtbot.waitUntil(lambda: panel.trust_label.isVisible(), timeout=10000)
    assert "no map here is better than chance" in panel.trust_label.text()
    idle(win)


def test_no_stale_maps_after_opening_a_project_without_a_model(qtbot, window, idle, tmp_path):
    """Overlay Off hides the colour bar; a project without a model shows no layer, no scale and
    no maps of the previous one."""
    from support.synthetic_datasets import import_folder, write_parts

    win = window
    panel = win.attention
    view = win.image_pane.view
    win.browser.grid.select_row(0)
    qtbot.waitUntil(lambda: win.inspection.result is not None, timeout=20000)
    idle(win)
    assert view.colorbar_shown and panel.layer_combo.count() > 0
    panel.mode_combo.setCurrentText("Off")
    assert not view.colorbar_shown and view.overlay_item.image is None
    panel.mode_combo.setCurrentText("Relevance")
    assert view.colorbar_shown

    write_parts(tmp_path / "plain", ("good", "scratch"), n=6)
    import_folder(tmp_path / "plain.db", tmp_path / "plain").close()
    win.controller.open_project(tmp_path / "plain.db")
    qtbot.waitUntil(lambda: win.state.is_open and win.state.path.name == "plain.db"
                    and not win.browser.image_model.querying, timeout=15000)
    win.browser.grid.select_row(0)
    qtbot.waitUntil(lambda: win.inspection.detail is not None, timeout=10000)
    idle(win)
    assert win.state.model_version is None
    assert panel.layer_combo.count() == 0 and panel.class_combo.count() == 0
    assert not view.colorbar_shown and view.overlay_item.image is None
    assert all(not t.isVisible() for t in panel.tiles)
