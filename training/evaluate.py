"""Validation: each rank scores its share of the val split; one all-reduce of the confusion matrix
gives every rank the exact global accuracy and balanced accuracy (no padding, no duplicates)."""
from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from training.dist import DistInfo, all_reduce_sum


@torch.inference_mode()
def evaluate(model: nn.Module, source, num_classes: int, info: DistInfo, *, mean: Sequence[float],
             std: Sequence[float], batch_size: int) -> dict[str, float]:
    """source: a training.data.ImageSource of uint8 images; mean/std in 0..1 units."""
    was_training = model.training
    model.eval()
    cuda = info.device.type == "cuda"
    k = num_classes
    mine = list(range(info.rank, len(source), info.world_size))
    confusion = torch.zeros(k * k, dtype=torch.float64, device=info.device)
    loss_sum = torch.zeros(1, dtype=torch.float64, device=info.device)
    m = torch.tensor(mean, device=info.device).view(1, -1, 1, 1) * 255.0
    s = torch.tensor(std, device=info.device).view(1, -1, 1, 1) * 255.0
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext()
    for xb, yb, _ in source.batches(mine, batch_size, drop_last=False):
        x = (xb.to(info.device, non_blocking=True).float() - m) / s
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        yb = yb.to(info.device, non_blocking=True)
        with amp:
            logits = model(x)
        loss_sum += F.cross_entropy(logits.float(), yb, reduction="sum").double()
        confusion += torch.bincount(yb * k + logits.argmax(1), minlength=k * k).double()
    both = all_reduce_sum(torch.cat([confusion, loss_sum]))
    model.train(was_training)
    return confusion_metrics(both[:-1].view(k, k).cpu(), float(both[-1]))


def confusion_metrics(confusion: torch.Tensor, loss_sum: float) -> dict[str, float]:
    total = float(confusion.sum())
    correct = float(confusion.diag().sum())
    support = confusion.sum(1)
    present = support > 0
    recall = confusion.diag()[present] / support[present]
    return {
        "val_images": int(total),
        "val_loss": loss_sum / total if total else float("nan"),
        "val_acc": correct / total if total else float("nan"),
        # Mean recall over the classes present: a 95%-good line must not hide a blind defect class.
        "val_balanced_acc": float(recall.mean()) if len(recall) else float("nan"),
    }
