"""Which attention heads look at the defects: per layer and head, over the project's masked images."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from core.progress import Reporter, silent

if TYPE_CHECKING:
    from core.inference.heads import HeadStats
    from core.store.project import Project

UNMASKED_SHARE = 4  # a quarter as many images without masks, so alpha and entropy always show
MIN_UNMASKED = 16


def analyse_project_heads(project: Project, checkpoint: str | os.PathLike, *, limit: int = 300,
                          device: str = "auto", progress: Reporter | None = None) -> list[HeadStats]:
    """Head statistics sorted for display (most drawn to defects first); `limit` defect images at
    most (0 = all). Unreadable images are skipped."""
    from core.data.decode import ImageDecodeError, load_image
    from core.inference.heads import analyse_heads, sort_for_display
    from core.inference.predict import prepare_model, resolve_device
    from core.model.checkpoint import load_checkpoint
    from core.store.queries import ImageFilter, all_images

    dev = resolve_device(device)
    model, meta = load_checkpoint(checkpoint)
    model = prepare_model(model, dev)
    with project.session() as session:
        every = all_images(session, ImageFilter(readable=True))
    limit = limit if limit > 0 else len(every)
    images = [r for r in every if r.mask_path][:limit]
    images += [r for r in every if not r.mask_path][: max(MIN_UNMASKED, limit // UNMASKED_SHARE)]

    def items():
        for r in images:
            try:
                yield load_image(r.abs_path), (load_image(r.mask_path) if r.mask_path else None)
            except ImageDecodeError:
                continue

    return sort_for_display(analyse_heads(model, meta, items(), progress=progress or silent()))
