"""torchvision's reference models as benchmark peers, from scratch, for 1- or 3-channel input."""
from __future__ import annotations

import torch
from torch import nn

PEERS = ("resnet18", "mobilenet_v3_large", "efficientnet_b0")


def peer_model(name: str, num_classes: int, in_chans: int = 3) -> nn.Module:
    import torchvision

    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; known: {', '.join(PEERS)}")
    model = getattr(torchvision.models, name)(num_classes=num_classes)
    if in_chans != 3:
        _first_conv_to(model, in_chans)
    return model


def _first_conv_to(model: nn.Module, in_chans: int) -> None:
    """Replace the first 3-channel convolution by one taking `in_chans` (fresh weights: from scratch)."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and m.in_channels == 3:
            new = nn.Conv2d(in_chans, m.out_channels, m.kernel_size, m.stride, m.padding, bias=m.bias is not None)
            nn.init.kaiming_normal_(new.weight, mode="fan_out", nonlinearity="relu")
            parent = model
            *path, leaf = name.split(".")
            for part in path:
                parent = getattr(parent, part)
            setattr(parent, leaf, new)
            return
    raise ValueError("no 3-channel convolution found")


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["PEERS", "count_params", "peer_model", "torch"]
