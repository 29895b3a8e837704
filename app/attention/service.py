"""Runs on the "model" worker thread only: loads checkpoints, keeps an AttentionExplainer per model
and the evidence of the latest image, and turns core.inference's evidence into plain records.

torch is imported here lazily (inside functions), so importing the GUI never pays for it.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from app.attention.attention_results import AblationResult, AttentionResult, LayerMaps

if TYPE_CHECKING:
    from core.inference.attention_explainer import AttentionExplainer, ImageEvidence


class AttentionService:
    def __init__(self) -> None:
        self._explainers: dict[str, AttentionExplainer] = {}  # checkpoint path -> its explainer
        self._evidence: dict[tuple[int, str], ImageEvidence] = {}  # (image id, checkpoint), latest only
        self._relevance: dict[tuple[int, str, int], np.ndarray] = {}  # latest image's map per class
        self._lock = threading.Lock()

    def explainer(self, checkpoint: str) -> AttentionExplainer:
        with self._lock:
            ex = self._explainers.get(checkpoint)
            if ex is None:
                from core.inference.attention_explainer import AttentionExplainer
                from core.model.checkpoint import load_checkpoint

                model, meta = load_checkpoint(checkpoint, "cpu")
                ex = AttentionExplainer(model, meta)
                self._explainers = {checkpoint: ex}  # one model in memory: the one being inspected
            return ex

    def analyse(self, image_id: int, model_id: int | None, checkpoint: str, image: np.ndarray,
                mask: np.ndarray | None, query: tuple[float, float] | None,
                target: int | None = None) -> AttentionResult:
        """`target`: the class the relevance map explains (None: the predicted one)."""
        ex = self.explainer(checkpoint)
        key = (image_id, checkpoint)
        ev = self._evidence.get(key)
        if ev is None:
            ev = ex.analyse(image)
            self._evidence = {key: ev}
        masks = None
        if mask is not None and np.any(mask):
            from core.inference.heads import resize_mask

            masks = resize_mask(mask, ex.pre.input_size)
        layers = []
        for i, le in enumerate(ev.layers):
            maps = le.received if query is None else ex.query_map(ev, i, query[1], query[0])
            contrib = np.asarray(le.contribution_out, np.float64)
            share = contrib / contrib.sum() if contrib.sum() > 0 else np.full(len(contrib), 1.0 / len(contrib))
            align = None
            if masks is not None:
                from core.inference.heads import mask_alignment

                align, _ = mask_alignment(le.received, masks)
            layers.append(LayerMaps(layer=i, name=le.name, grid=le.grid, maps=np.asarray(maps, np.float32),
                                    alphas=np.asarray(le.alpha, np.float32), contributions=share, alignment=align))
        target = ev.predicted if target is None else target
        rel_key = (image_id, checkpoint, target)
        relevance = self._relevance.get(rel_key)
        if relevance is None:
            relevance = ex.relevance(image, target)
            self._relevance = {rel_key: relevance}
        return AttentionResult(image_id=image_id, model_id=model_id, query=query, image_size=ev.image_size,
                               layers=layers, rollout=np.asarray(ex.rollout(ev), np.float32),
                               probs=np.asarray(ev.probs, np.float32), class_names=list(ev.class_names),
                               relevance=np.asarray(relevance, np.float32), relevance_class=target)

    def ablate(self, image_id: int, checkpoint: str, image: np.ndarray, off: frozenset[tuple[int, int]]) -> AblationResult:
        probs = self.explainer(checkpoint).ablate(image, set(off))
        return AblationResult(image_id=image_id, off=off, probs=np.asarray(probs, np.float32))
