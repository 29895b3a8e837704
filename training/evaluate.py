"""Validation: each rank scores its share of the val split; one all-reduce of the confusion matrix
gives every rank the exact global accuracy and balanced accuracy (no padding, no duplicates)."""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from training.dist import all_reduce_sum
from training.preemption import iterate


@torch.inference_mode()
def evaluate(model: nn.Module, loader, num_classes: int, device: torch.device, *, channels_last: bool,
             autocast: bool) -> dict[str, float]:
    was_training = model.training
    model.eval()
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.float64, device=device)
    loss_sum = torch.zeros(1, dtype=torch.float64, device=device)
    amp = torch.autocast(device.type, dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    for images, targets in iterate(loader):
        images = images.to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        targets = targets.to(device, non_blocking=True)
        with amp:
            logits = model(images)
        loss_sum += F.cross_entropy(logits.float(), targets, reduction="sum").double()
        pred = logits.argmax(1)
        confusion += torch.bincount(targets * num_classes + pred, minlength=num_classes**2).double()
    both = all_reduce_sum(torch.cat([confusion, loss_sum]))
    model.train(was_training)
    return confusion_metrics(both[:-1].view(num_classes, num_classes).cpu(), float(both[-1]))


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
