"""AAN: adaptive-attention network, a hybrid of convolutional early stages and adaptive-attention
transformer stages on the small token grids (stride 16 and 32: 14x14 and 7x7 at 224x224).

Why this shape: on CPUs and GPUs alike, dense 3x3 convolutions at high resolution and large
matrix multiplies on few tokens run close to peak, while depthwise convolutions and many small
normalisation layers cost far more time than their FLOPs suggest. So the stem is a stack of plain
stride-2 convolutions (BatchNorm, foldable at inference), and the rest is attention + MLP on
14x14 and 7x7 token grids, where every head's map is small enough to show an inspector.

Each attention layer is `core.model.attention.AdaptiveAttention`: a learnable scale alpha per head.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from core.model.attention import AdaptiveAttention


@dataclass(frozen=True, kw_only=True, slots=True)
class AANConfig:
    stem_channels: tuple[int, ...] = (16, 24, 48)  # stride-2 convs: /2, /4, /8
    embed_dims: tuple[int, int] = (128, 256)  # attention stages at /16 and /32
    depths: tuple[int, int] = (4, 5)
    num_heads: tuple[int, int] = (4, 8)
    mlp_ratio: float = 2.5
    head_dim: int = 32

    def __post_init__(self) -> None:
        if len(self.embed_dims) != 2 or len(self.depths) != 2 or len(self.num_heads) != 2:
            raise ValueError("AAN has exactly two attention stages")
        if not self.stem_channels:
            raise ValueError("the stem needs at least one convolution")

    @property
    def stride(self) -> int:
        return 2 ** (len(self.stem_channels) + 2)

    def to_dict(self) -> dict:
        return asdict(self)


def conv_bn_act(cin: int, cout: int, stride: int, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.GELU())
    return nn.Sequential(*layers)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block with adaptive attention."""

    def __init__(self, dim: int, num_heads: int, head_dim: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = AdaptiveAttention(dim, num_heads, head_dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), grid)
        return x + self.mlp(self.norm2(x))


class Stage(nn.Module):
    """Stride-2 convolutional downsample, a convolutional position encoding, then attention blocks."""

    def __init__(self, cin: int, dim: int, depth: int, num_heads: int, head_dim: int, mlp_ratio: float):
        super().__init__()
        self.downsample = conv_bn_act(cin, dim, 2, act=False)
        # Depthwise 3x3 position encoding: tells attention where tokens are, for any input size.
        self.pos = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)
        self.blocks = nn.ModuleList(Block(dim, num_heads, head_dim, mlp_ratio) for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        x = x + self.pos(x)
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        for blk in self.blocks:
            t = blk(t, (h, w))
        return t.transpose(1, 2).reshape(b, c, h, w)


class AAN(nn.Module):
    def __init__(self, config: AANConfig, num_classes: int, in_chans: int = 3):
        super().__init__()
        self.config = config
        self.num_classes = num_classes
        self.in_chans = in_chans
        chans = (in_chans, *config.stem_channels)
        self.stem = nn.Sequential(*(conv_bn_act(a, b, 2) for a, b in zip(chans, chans[1:])))
        d0, d1 = config.embed_dims
        self.stages = nn.ModuleList(
            [
                Stage(chans[-1], d0, config.depths[0], config.num_heads[0], config.head_dim, config.mlp_ratio),
                Stage(d0, d1, config.depths[1], config.num_heads[1], config.head_dim, config.mlp_ratio),
            ]
        )
        self.norm = nn.LayerNorm(d1)
        self.head = nn.Linear(d1, num_classes)
        self.apply(_init_weights)

    def alphas(self) -> list[torch.Tensor]:
        """One 1-D tensor per attention layer, one alpha per head (the live parameters)."""
        return [blk.attn.alpha for stage in self.stages for blk in stage.blocks]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(x.mean(dim=(2, 3))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if m.bias is not None:
            nn.init.zeros_(m.bias)


VARIANTS: dict[str, AANConfig] = {
    # 4.19 M parameters, 0.310 GMACs at 224x224 with 1000 classes (tests/model/test_complexity.py).
    "aan_s": AANConfig(),
    # For tests and quick experiments on 2 CPU cores.
    "aan_t": AANConfig(stem_channels=(8, 16, 32), embed_dims=(64, 128), depths=(1, 1), num_heads=(2, 4), mlp_ratio=2.0),
}
