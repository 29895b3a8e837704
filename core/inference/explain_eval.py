"""Faithfulness of every explanation method over a set of images, for one model (see
core.inference.faithfulness for the scores, core.inference.attribution for the methods)."""
from __future__ import annotations

import time
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from core.inference.attribution import METHODS, explanation_map
from core.inference.faithfulness import ImageScores, MethodSummary, score_image, summarise
from core.inference.heads import resize_mask
from core.inference.preprocess import Preprocess
from core.progress import Reporter, silent


def evaluate_explanations(model: nn.Module, pre: Preprocess, images: Iterable[tuple[np.ndarray, np.ndarray | None]],
                          *, total: int | None = None, methods: Sequence[str] = METHODS, seed: int = 0,
                          progress: Reporter | None = None) -> dict[str, MethodSummary]:
    """images: (uint8 image, defect mask or None) pairs. Each image is explained for its predicted
    class; every method sees the same images and, per image, the same random 10 %."""
    progress = progress or silent()
    model.eval()
    scores: dict[str, list[ImageScores]] = {m: [] for m in methods}
    seconds: dict[str, float] = {m: 0.0 for m in methods}
    done = 0
    for image, mask in images:
        if progress.cancelled:
            break
        x = pre.tensor(image, next(model.parameters()).device)
        with torch.inference_mode():
            target = int(model(x).argmax(-1)[0])
        m_mask = resize_mask(mask, pre.input_size) if mask is not None and np.any(mask) else None
        for method in methods:
            t = time.perf_counter()
            m = explanation_map(method, model, x, target=target, seed=seed + done)
            seconds[method] += time.perf_counter() - t
            # the same generator state per image for every method: the same random 10 %
            rng = np.random.default_rng([seed, done])
            scores[method].append(score_image(model, x, m, target, rng=rng, mask=m_mask))
        done += 1
        progress.progress(done, total or 0, f"{done}/{total or '?'} images")
    return {m: summarise(m, scores[m], 1e3 * seconds[m] / max(done, 1)) for m in methods}
